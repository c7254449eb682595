// Package eventbus is Salesforce's Pub/Sub API (service eventbus.v1.PubSub) compiled from the
// published pubsub_api.proto (github.com/forcedotcom/pub-sub-api, the same file the
// salesforce-pubsub-api-client npm package ships). The *.pb.go files are generated: edit nothing but
// the .proto, and only to follow Salesforce's.
package eventbus

// Regenerate with protoc (Debian's protobuf-compiler) and the plugins at the versions of go.mod's
// modules: go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 and
// google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2.
//go:generate protoc --go_out=. --go_opt=paths=source_relative "--go_opt=Mpubsub_api.proto=pgforce/sync/salesforce/pubsub/eventbus;eventbus" --go-grpc_out=. --go-grpc_opt=paths=source_relative "--go-grpc_opt=Mpubsub_api.proto=pgforce/sync/salesforce/pubsub/eventbus;eventbus" pubsub_api.proto
