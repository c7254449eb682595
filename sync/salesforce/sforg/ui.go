package sforg

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The record browser: a tiny Salesforce-like UI where a demo user edits records by hand (each edit
// is a normal save: validation, SystemModstamp, CDC), to watch changes flow into Postgres.

const orgCSS = `body{font:14px/1.4 system-ui,sans-serif;background:#f3f6f9;margin:0;color:#181818}
header{background:#032d60;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center}header a{color:#fff}
main{max-width:1100px;margin:20px auto;background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:20px}
main.narrow{max-width:380px;margin-top:60px}h1{font-size:20px;margin:0 0 12px;color:#032d60}p{color:#54698d}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e5e5;font-size:13px}
th{background:#fafaf9;color:#514f4d}label{display:block;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=password],textarea,select{width:100%;box-sizing:border-box;padding:8px;border:1px solid #c9c7c5;border-radius:4px;font:inherit}
button{margin-top:16px;padding:9px 16px;border-radius:4px;border:1px solid #0070d2;background:#0070d2;color:#fff;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:#0070d2}.error{color:#c23934;background:#fdecea;padding:8px;border-radius:4px}.note{font-size:12px;color:#706e6b}
.ok{color:#2e844a;background:#ebf7e6;padding:8px;border-radius:4px}a{color:#0070d2}`

var uiTemplates = template.Must(template.New("ui").Funcs(template.FuncMap{"fmt": uiValue}).Parse(`
{{define "head"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}} | Salesforce (simulated)</title>
<link rel="stylesheet" href="{{.Base}}/_sforg/org.css"></head><body>
<header><strong>Salesforce</strong> <span class="note">simulated org</span> <a href="{{.Base}}/lightning">Objects</a></header>{{end}}
{{define "objects"}}{{template "head" .}}<main><h1>Objects</h1><table><thead><tr><th>Object</th><th>API name</th><th>Records</th></tr></thead><tbody>
{{range .Objects}}<tr><td><a href="{{$.Base}}/lightning/o/{{.Name}}">{{.Label}}</a></td><td>{{.Name}}</td><td>{{.Count}}</td></tr>{{end}}
</tbody></table></main></body></html>{{end}}
{{define "list"}}{{template "head" .}}<main><h1>{{.Object}}</h1><p><a href="{{.Base}}/lightning/o/{{.Object}}/new">New {{.Object}}</a> · most recently modified first (up to 200)</p>
<table><thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range $i, $v := .Values}}<td>{{if eq $i 0}}<a href="{{$.Base}}/lightning/r/{{$.Object}}/{{$v}}">{{$v}}</a>{{else}}{{$v}}{{end}}</td>{{end}}</tr>{{end}}
</tbody></table></main></body></html>{{end}}
{{define "edit"}}{{template "head" .}}<main><h1>{{if .ID}}Edit {{.Object}} {{.ID}}{{else}}New {{.Object}}{{end}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}{{if .Saved}}<p class="ok" role="status">Saved.</p>{{end}}
<form method="post">{{range .Fields}}<label for="f-{{.Name}}">{{.Label}} <span class="note">{{.Name}} · {{.Type}}</span></label>
{{if .Options}}<select id="f-{{.Name}}" name="{{.Name}}"><option value="">--None--</option>{{$v := .Value}}{{range .Options}}<option{{if eq . $v}} selected{{end}}>{{.}}</option>{{end}}</select>
{{else if .Long}}<textarea id="f-{{.Name}}" name="{{.Name}}" rows="4">{{.Value}}</textarea>
{{else}}<input type="text" id="f-{{.Name}}" name="{{.Name}}" value="{{.Value}}">{{end}}{{end}}
<button type="submit" id="save">Save</button></form>{{if .ID}}<form method="post" action="{{.Base}}/lightning/r/{{.Object}}/{{.ID}}/delete"><button type="submit" class="secondary" id="delete">Delete</button></form>{{end}}
</main></body></html>{{end}}
{{define "login"}}{{template "head" .}}<main class="narrow"><h1>Log in</h1>{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Base}}/lightning/login"><input type="hidden" name="next" value="{{.Next}}"><label for="username">Username</label><input type="text" id="username" name="username" value="{{.User}}">
<label for="password">Password</label><input type="password" id="password" name="pw"><button type="submit" id="Login">Log In</button></form>
<p class="note">Demo user: {{.User}} / password {{.Password}}</p></main></body></html>{{end}}
`))

func uiValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format(time.RFC3339)
	}
	return csvValue("", v)
}

func (o *Org) render(w http.ResponseWriter, name string, data map[string]any) {
	data["Base"] = o.opts.BasePath
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = uiTemplates.ExecuteTemplate(w, name, data)
}

func (o *Org) requireLogin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !o.loggedIn(r) {
			http.Redirect(w, r, o.path("/lightning/login?next=")+url.QueryEscape(o.path(r.URL.Path)), http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

func (o *Org) uiRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /_sforg/org.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write([]byte(orgCSS))
	})
	m.HandleFunc("GET /lightning/login", func(w http.ResponseWriter, r *http.Request) {
		o.render(w, "login", map[string]any{"Title": "Login", "User": o.opts.Username, "Password": o.opts.Password, "Next": r.URL.Query().Get("next")})
	})
	m.HandleFunc("POST /lightning/login", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		next := r.PostForm.Get("next")
		if !strings.HasPrefix(next, o.path("/lightning")) {
			next = o.path("/lightning")
		}
		if r.PostForm.Get("username") != o.opts.Username || r.PostForm.Get("pw") != o.opts.Password {
			w.WriteHeader(http.StatusUnauthorized)
			o.render(w, "login", map[string]any{"Title": "Login", "User": o.opts.Username, "Password": o.opts.Password, "Next": next,
				"Error": "Please check your username and password."})
			return
		}
		o.setLogin(w)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, o.path("/lightning"), http.StatusSeeOther)
	})
	m.HandleFunc("GET /lightning", o.requireLogin(o.uiObjects))
	m.HandleFunc("GET /lightning/o/{object}", o.requireLogin(o.uiList))
	m.HandleFunc("GET /lightning/o/{object}/new", o.requireLogin(o.uiEdit))
	m.HandleFunc("POST /lightning/o/{object}/new", o.requireLogin(o.uiSave))
	m.HandleFunc("GET /lightning/r/{object}/{id}", o.requireLogin(o.uiEdit))
	m.HandleFunc("POST /lightning/r/{object}/{id}", o.requireLogin(o.uiSave))
	m.HandleFunc("POST /lightning/r/{object}/{id}/delete", o.requireLogin(func(w http.ResponseWriter, r *http.Request) {
		if err := o.DeleteAsUser(r.PathValue("object"), r.PathValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, o.path("/lightning/o/"+r.PathValue("object")), http.StatusSeeOther)
	}))
}

func (o *Org) uiObjects(w http.ResponseWriter, r *http.Request) {
	objs := o.ObjectCounts()
	o.render(w, "objects", map[string]any{"Title": "Objects", "Objects": objs})
}

func (o *Org) uiList(w http.ResponseWriter, r *http.Request) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(r.PathValue("object"))
	if t == nil {
		http.NotFound(w, r)
		return
	}
	cols := []string{"Id"}
	for _, name := range []string{"Name", "LastName", "Subject", "Company", "Status", "StageName", "Amount__c", "Email", "LastModifiedDate"} {
		if t.def.has(name) {
			cols = append(cols, name)
		}
	}
	rows := slices.Clone(t.rows)
	slices.Reverse(rows)
	type line struct{ Values []string }
	var lines []line
	for _, rec := range rows {
		if rec.deleted {
			continue
		}
		var vals []string
		for _, c := range cols {
			vals = append(vals, uiValue(t.get(rec, c)))
		}
		lines = append(lines, line{vals})
		if len(lines) == 200 {
			break
		}
	}
	o.render(w, "list", map[string]any{"Title": t.def.Label, "Object": t.def.Name, "Columns": cols, "Rows": lines})
}

type uiField struct {
	Name, Label, Type, Value string
	Options                  []string
	Long                     bool
}

func (o *Org) uiFields(t *table, rec *row, insert bool) []uiField {
	var out []uiField
	for i, f := range t.def.Fields {
		if (insert && !f.Createable) || (!insert && !f.Updateable) {
			continue
		}
		uf := uiField{Name: f.Name, Label: f.Label, Type: f.Type, Options: f.Picklist, Long: f.Type == "textarea"}
		if rec != nil {
			uf.Value = uiValue(rec.val(i))
		}
		out = append(out, uf)
	}
	return out
}

func (o *Org) uiEdit(w http.ResponseWriter, r *http.Request) {
	o.mu.RLock()
	t := o.table(r.PathValue("object"))
	var rec *row
	if t != nil && r.PathValue("id") != "" {
		rec = o.find(t, r.PathValue("id"), false)
	}
	if t == nil || (r.PathValue("id") != "" && rec == nil) {
		o.mu.RUnlock()
		http.NotFound(w, r)
		return
	}
	fields := o.uiFields(t, rec, rec == nil)
	o.mu.RUnlock()
	o.render(w, "edit", map[string]any{"Title": t.def.Label, "Object": t.def.Name, "ID": r.PathValue("id"), "Fields": fields, "Saved": r.URL.Query().Get("saved") == "1"})
}

func (o *Org) uiSave(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	object, id := r.PathValue("object"), r.PathValue("id")
	o.mu.RLock()
	t := o.table(object)
	var fields []uiField
	if t != nil {
		fields = o.uiFields(t, nil, id == "")
	}
	o.mu.RUnlock()
	if t == nil {
		http.NotFound(w, r)
		return
	}
	body := map[string]json.RawMessage{}
	for _, f := range fields {
		v, present := r.PostForm[f.Name]
		if !present {
			continue
		}
		switch {
		case v[0] == "":
			body[f.Name] = json.RawMessage("null")
		case f.Type == "boolean":
			body[f.Name] = json.RawMessage(map[bool]string{true: "true", false: "false"}[strings.EqualFold(v[0], "true")])
		case f.Type == "int" || f.Type == "double" || f.Type == "currency" || f.Type == "percent":
			body[f.Name] = json.RawMessage(strings.TrimSpace(v[0]))
		default:
			b, _ := json.Marshal(v[0])
			body[f.Name] = b
		}
	}
	var aerr *apiError
	if id == "" {
		id, aerr = o.Create(t.def.Name, body, "com/salesforce/api/soap/ui")
	} else {
		aerr = o.Update(t.def.Name, id, body, "com/salesforce/api/soap/ui")
	}
	if aerr != nil {
		w.WriteHeader(http.StatusBadRequest)
		o.mu.RLock()
		var rec *row
		if id != "" {
			rec = o.find(t, id, false)
		}
		fields := o.uiFields(t, rec, rec == nil)
		o.mu.RUnlock()
		for i := range fields {
			if v, ok := r.PostForm[fields[i].Name]; ok {
				fields[i].Value = v[0]
			}
		}
		o.render(w, "edit", map[string]any{"Title": t.def.Label, "Object": t.def.Name, "ID": id, "Fields": fields, "Error": aerr.Code + ": " + aerr.Message})
		return
	}
	http.Redirect(w, r, o.path("/lightning/r/"+t.def.Name+"/"+id+"?saved=1"), http.StatusSeeOther)
}

// ObjectCount is an object of the org with how many records it holds.
type ObjectCount struct {
	Name, Label string
	Count       int
}

// ObjectCounts lists the org's objects with their record counts (deleted records left out).
func (o *Org) ObjectCounts() []ObjectCount {
	var objs []ObjectCount
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, name := range o.objectNames() {
		t := o.table(name)
		n := 0
		for _, rec := range t.rows {
			if !rec.deleted {
				n++
			}
		}
		objs = append(objs, ObjectCount{t.def.Name, t.def.Label, n})
	}
	return objs
}
