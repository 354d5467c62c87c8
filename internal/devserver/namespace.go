package devserver

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// reconcileTimeout bounds the namespace calls made right after boot.
const reconcileTimeout = 30 * time.Second

// reconcileNamespace applies the options that must hold on every boot, not
// only when the namespace is created: an existing file keeps whatever
// retention and search attributes an older sever gave it. added reports
// whether search attributes were added.
func reconcileNamespace(ctx context.Context, frontend string, o Options) (added bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	conn, err := grpc.NewClient(frontend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, fmt.Errorf("connect to frontend %s: %w", frontend, err)
	}
	defer conn.Close()
	wf := workflowservice.NewWorkflowServiceClient(conn)
	op := operatorservice.NewOperatorServiceClient(conn)

	err = retryUnavailable(ctx, func() error {
		_, err := wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: o.Namespace,
			Config: &namespacepb.NamespaceConfig{
				WorkflowExecutionRetentionTtl: durationpb.New(o.Retention),
			},
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("set retention %v on namespace %q: %w", o.Retention, o.Namespace, err)
	}

	if len(o.SearchAttributes) == 0 {
		return false, nil
	}
	// Add only the missing ones: the server logs a warning for every
	// attribute that already exists, which would be noise on every boot.
	var existing map[string]enums.IndexedValueType
	err = retryUnavailable(ctx, func() error {
		resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: o.Namespace})
		existing = resp.GetCustomAttributes()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("list search attributes of namespace %q: %w", o.Namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	names := make([]string, 0, len(o.SearchAttributes))
	for name := range o.SearchAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := o.SearchAttributes[name]
		got, ok := existing[name]
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			return false, fmt.Errorf("search attribute %q is registered as %v in namespace %q, want %v; use a fresh --data-dir",
				name, got, o.Namespace, want)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	err = retryUnavailable(ctx, func() error {
		_, err := op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        o.Namespace,
			SearchAttributes: missing,
		})
		if status.Code(err) == codes.AlreadyExists {
			return nil // added concurrently; what we wanted
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("add search attributes to namespace %q: %w", o.Namespace, err)
	}
	return true, nil
}

// retryUnavailable retries call while the frontend answers Unavailable (it
// may still be warming up right after Start) until ctx ends.
func retryUnavailable(ctx context.Context, call func() error) error {
	for {
		err := call()
		if err == nil || status.Code(err) != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}
