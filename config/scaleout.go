package config

// CheckScaleOut refuses a deployment whose workers would keep the state they must
// share on their own disks: a shared Temporal cluster (temporal.address set, so workers
// may run on any number of hosts) without database.url, where each host would write
// its own ledger, token store and file:// evidence under data_dir and one incident's
// hash chain would split across hosts. single_host: true says every process runs on
// one host and shares data_dir, and accepts it. `sever config check` runs it.
func (c *Config) CheckScaleOut() error {
	if c.Temporal.Address == "" || c.SharedState() || c.SingleHost {
		return nil
	}
	v := &validator{c: c}
	v.add("database.url", "temporal.address %s is a shared Temporal cluster, so workers may run on several hosts, "+
		"but without database.url each would write the ledger, the token store and file:// evidence under its own data_dir (%s): "+
		"one incident's hash chain would split across hosts. Set database.url to a reference to a PostgreSQL URL "+
		"(database.url: env:SEVER_DATABASE_URL) and run `sever migrate`, or set single_host: true (SEVER_SINGLE_HOST=true) "+
		"if every sever process runs on this host and shares data_dir",
		c.Temporal.Address, c.DataDir)
	return &Error{Problems: v.probs}
}
