package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"pgforce/internal/apitoken"
	"pgforce/internal/resource"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

// The connection's streaming transport is a setting on Settings (audited), and the transport an
// accelerated mapping streams over shows on its page and in the API.
func TestStreamTransportIsASettingAndShowsOnTheMappingPageAndInTheAPI(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("transport", true)
	selected := func() string {
		return b.get("/settings?conn="+itoa(c.ID)).doc(t).Find(`#stream-transport option[selected]`).AttrOr("value", "")
	}
	if got := selected(); got != "auto" {
		t.Fatalf("a new connection streams over %q, want auto", got)
	}
	if res := b.post("/connections/"+itoa(c.ID)+"/stream-transport", url.Values{"stream_transport": {"cometd"}}); res.StatusCode >= 400 {
		t.Fatalf("set the transport: %d", res.StatusCode)
	}
	if got := selected(); got != "cometd" {
		t.Fatalf("the saved transport shows as %q, want cometd", got)
	}
	if page := b.post("/connections/"+itoa(c.ID)+"/stream-transport", url.Values{"stream_transport": {"pigeon"}}); !strings.Contains(b.get("/settings?conn="+itoa(c.ID)).body+page.body, "auto, pubsub or cometd") {
		t.Fatal("an unknown transport is refused with a message")
	}
	if got := selected(); got != "cometd" {
		t.Fatalf("after a refused change the transport is %q", got)
	}
	var audited int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'connection.stream_transport'`).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("%d audit entries (%v), want 1", audited, err)
	}

	m := a.mapping(c.ID, "Account", "Name")
	a.exec(`UPDATE mappings SET config = jsonb_set(config, '{sf_notify_enabled}', 'true') WHERE id = $1`, m.ID)
	if page := b.get("/mappings/" + itoa(m.ID)).body; !strings.Contains(page, "accelerated (not streaming yet)") {
		t.Fatal("an accelerated mapping that does not stream yet says so")
	}
	if err := mapping.SetStreamTransports(context.Background(), a.pool, c.ID, []string{"Account"}, "pubsub"); err != nil {
		t.Fatal(err)
	}
	if page := b.get("/mappings/" + itoa(m.ID)).body; !strings.Contains(page, "accelerated (streamed over the Pub/Sub API)") {
		t.Fatal("the mapping page does not name the Pub/Sub API")
	}
}

func TestAPIShowsTheStreamTransport(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	cfg := mapping.NewConfig("Name")
	cfg.SFNotifyEnabled = true
	m, err := a.b.Admin.Mappings.Create(a.b.Ctx, enginetest.Admin, a.b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := mapping.SetStreamTransports(a.b.Ctx, a.b.Pool, a.b.Conn.ID, []string{"Account"}, "cometd"); err != nil {
		t.Fatal(err)
	}
	conn := decode[resource.Connection](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+itoa(a.b.Conn.ID), "", 200))
	if conn.StreamTransport != "auto" {
		t.Fatalf("connection stream_transport = %q, want auto", conn.StreamTransport)
	}
	got := decode[resource.Mapping](t, a.as(apitoken.Viewer, "GET", "/api/v3/mappings/"+itoa(m.ID), "", 200))
	if got.StreamTransport != "cometd" {
		t.Fatalf("mapping stream_transport = %q, want cometd", got.StreamTransport)
	}
}
