package sforg

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
)

// handleSOAPLogin implements the partner API's login call (POST /services/Soap/u/{version}), which
// many tools still use to sign in with a username and password: it answers a session id that works
// as a REST bearer token, and the server URL whose host is the instance.
func (o *Org) handleSOAPLogin(w http.ResponseWriter, r *http.Request) {
	if o.fault(w, r) {
		return
	}
	version, ok := apiVersion("v" + strings.TrimPrefix(r.PathValue("version"), "v"))
	n := versionNumber(version)
	if !ok || n < minVersionNumber || n > latestVersionNumber {
		soapFault(w, "sf:UNSUPPORTED_API_VERSION", "UNSUPPORTED_API_VERSION: Invalid Api version specified on URL")
		return
	}
	// login() is gone from API 65.0, and new orgs disable it in earlier versions too.
	if n >= 65 {
		soapFault(w, "sf:INVALID_OPERATION", "INVALID_OPERATION: SOAP API login() is not available in API version 65.0 and later; use OAuth")
		return
	}
	o.mu.RLock()
	enabled := o.settings.soapLogin
	o.mu.RUnlock()
	if !enabled {
		soapFault(w, "sf:INVALID_OPERATION", "INVALID_OPERATION: SOAP API login() is disabled in this org; an administrator can enable it in Setup")
		return
	}
	var env struct {
		Body struct {
			Login struct {
				Username string `xml:"username"`
				Password string `xml:"password"`
			} `xml:"login"`
		} `xml:"Body"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&env); err != nil || env.Body.Login.Username == "" {
		soapFault(w, "soapenv:Client", "Element {urn:partner.soap.sforce.com}login invalid at this location")
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// The password may carry the security token appended, as Salesforce accepts it.
	if env.Body.Login.Username != o.opts.Username || !strings.HasPrefix(env.Body.Login.Password, o.opts.Password) {
		soapFault(w, "sf:INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security token; or user locked out.")
		return
	}
	t := o.mint(r, nil, false, withoutRefresh(o.granted("")))
	base := t["instance_url"]
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>`+
		`<metadataServerUrl>%[1]s/services/Soap/m/%[2]s/%[3]s</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox>`+
		`<serverUrl>%[1]s/services/Soap/u/%[2]s/%[3]s</serverUrl><sessionId>%[4]s</sessionId><userId>%[5]s</userId>`+
		`<userInfo><organizationId>%[3]s</organizationId><organizationName>%[7]s</organizationName><userEmail>%[6]s</userEmail><userFullName>Org Admin</userFullName><userId>%[5]s</userId><userName>%[6]s</userName></userInfo>`+
		`</result></loginResponse></soapenv:Body></soapenv:Envelope>`,
		html.EscapeString(base), version, o.orgID, html.EscapeString(t["access_token"]), o.userID, html.EscapeString(o.opts.Username), DemoOrgName)
}

func soapFault(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError) // SOAP faults travel as 500, as Salesforce sends them
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
		html.EscapeString(code), html.EscapeString(msg))
}
