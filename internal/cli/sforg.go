package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"pgforce/internal/config"
	"pgforce/internal/keyring"
	"pgforce/sync/salesforce/sforg"
)

// SimulatedOrgListening starts the line `pgforce sforg` prints once it listens, followed by its URL
// (the benchmarks read it from their child process).
const SimulatedOrgListening = "pgforce: simulated Salesforce org at "

// SimulatedPubSubListening starts the line announcing the simulated org's Pub/Sub API.
const SimulatedPubSubListening = "pgforce: Pub/Sub API at "

// callbackURLs collects --callback-url flags; each must be an absolute URL, as in a connected app.
type callbackURLs []string

func (c *callbackURLs) String() string { return strings.Join(*c, ",") }

func (c *callbackURLs) Set(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a callback URL: give an absolute URL such as http://localhost:3000/oauth/callback, without a #fragment", v)
	}
	*c = append(*c, v)
	return nil
}

// SimulatedOrg runs `pgforce sforg`: a simulated org alone at the root (for benchmarks, and for
// trying clients against it); `pgforce sim` is an alias.
func SimulatedOrg(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pgforce sforg", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:7777", "address to listen on")
	token := fs.String("control-token", "", "bearer token of the /_sforg control API (empty: generated and printed)")
	seed := fs.Int64("seed", 1, "demo data seed (0: objects only, no records)")
	clientID := fs.String("client-id", sforg.DemoClientID, "the connected app's consumer key")
	clientSecret := fs.String("client-secret", sforg.DemoClientSecret, "the connected app's consumer secret")
	user := fs.String("user", sforg.DemoUsername, "the org user's username")
	password := fs.String("password", sforg.DemoPassword, "the org user's password")
	apiLimit := fs.Int("api-limit", 100_000, "daily API request allowance")
	passwordFlow := fs.Bool("password-flow", true, "allow the OAuth username-password flow (real orgs created since Summer '23 block it)")
	soapLogin := fs.Bool("soap-login", false, "allow SOAP API login() up to API 64.0 (new real orgs disable it)")
	var callbacks callbackURLs
	fs.Var(&callbacks, "callback-url", "a callback URL of the connected app, where the OAuth web-server flow may send the browser back (repeat for several; none: that flow is refused)")
	pubsubAddr := fs.String("pubsub-addr", config.DefaultSimPubSubAddr, "address of the Pub/Sub API (gRPC with TLS, self-signed certificate); empty: none")
	latency := fs.Duration("latency", 0, "added to every API call (REST, composite, Bulk) as a real org's round trip, e.g. 150ms; Bulk jobs then take time to complete")
	pubsubCert := fs.String("pubsub-cert", "", "write the Pub/Sub API's certificate (PEM) to this file, for clients to trust")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = keyring.RandomToken(24)
		fmt.Fprintf(stdout, "pgforce: control API token %s\n", *token)
	}
	org := sforg.New(sforg.Options{Seed: *seed, ClientID: *clientID, ClientSecret: *clientSecret, Username: *user, Password: *password,
		ControlToken: *token, DailyAPILimit: *apiLimit, RedirectURIs: callbacks, AllowPasswordFlow: *passwordFlow, AllowSOAPLogin: *soapLogin, Latency: *latency})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	var ps *sforg.PubSubServer
	if *pubsubAddr != "" {
		// Started before the org announces itself: whoever reads the announcement may ask for it.
		ps = sforg.NewPubSubServer(org, sforg.PubSubOptions{Addr: *pubsubAddr})
		if err := ps.Start(ctx); err != nil {
			ln.Close()
			return err
		}
		defer ps.Stop()
		if *pubsubCert != "" {
			if err := os.WriteFile(*pubsubCert, ps.CertificatePEM(), 0o644); err != nil {
				return fmt.Errorf("--pubsub-cert: %w", err)
			}
		}
	}
	srv := &http.Server{Handler: org.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%shttp://%s (user %s, password %s, client id %s)\n", SimulatedOrgListening, ln.Addr(), *user, *password, *clientID)
	fmt.Fprintf(stdout, "pgforce: login URL http://%[1]s/login (or the instance itself), instance (REST, Bulk, CometD) http://%[1]s, control API http://%[1]s/_sforg (bearer token)\n", ln.Addr())
	if len(callbacks) == 0 {
		fmt.Fprintln(stdout, "pgforce: no OAuth callback URL registered: the web-server flow is refused (add --callback-url URL)")
	} else {
		fmt.Fprintf(stdout, "pgforce: OAuth callback URLs %s\n", strings.Join(callbacks, ", "))
	}
	if ps != nil {
		fmt.Fprintf(stdout, "%s%s (TLS, self-signed; its certificate: GET /_sforg/pubsub or --pubsub-cert)\n", SimulatedPubSubListening, ps.Addr())
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
