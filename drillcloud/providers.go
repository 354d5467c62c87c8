package drillcloud

// The model-provider half of the cloud (Anthropic and OpenAI) is split as the AWS
// half is: providers_seed.go (the seed and its validation), providers_state.go
// (organizations and keys), providers_http.go (requests, errors, dispatch),
// providers_auth.go (admin and API keys), providers_getters.go (what tests and
// drills read and do as the vendor), providers_attacker.go (a stolen key's use).

// Model-provider services, as they appear in Event.Service, Event.EventSource and
// Fault.Service.
const (
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"
)

var providerServices = map[string]bool{ProviderAnthropic: true, ProviderOpenAI: true}
