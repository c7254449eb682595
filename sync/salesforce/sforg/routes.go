package sforg

import "net/http"

func (o *Org) routes() {
	m := http.NewServeMux()
	o.mux = m
	v := func(p string) string { return "/services/data/{version}" + p }
	api := func(pattern, kind string, h func(http.ResponseWriter, *http.Request, *session)) {
		m.HandleFunc(pattern, o.api(kind, func(w http.ResponseWriter, r *http.Request, s *session) {
			v, err := o.offered(r.PathValue("version"))
			if err != nil {
				writeError(w, err)
				return
			}
			r.SetPathValue("version", "v"+v) // "latest" resolved once for every handler
			h(w, r, s)
		}))
	}

	// Discovery needs no authentication.
	m.HandleFunc("GET /services/data", o.handleVersions)
	m.HandleFunc("GET /services/data/{$}", o.handleVersions)
	m.HandleFunc("/services/data/", o.api("other", func(w http.ResponseWriter, r *http.Request, _ *session) { notFound(w) }))
	api(v(""), "discovery", o.handleResources)
	api(v("/{$}"), "discovery", o.handleResources)
	api(v("/limits"), "limits", o.handleLimits)
	api(v("/limits/{$}"), "limits", o.handleLimits)

	api(v("/sobjects"), "describe", o.handleDescribeGlobal)
	api(v("/sobjects/{$}"), "describe", o.handleDescribeGlobal)
	api(v("/sobjects/{object}"), "sobject", o.handleSObject)
	api(v("/sobjects/{object}/describe"), "describe", o.handleDescribe)
	api(v("/sobjects/{object}/describe/{$}"), "describe", o.handleDescribe)
	api(v("/sobjects/{object}/updated"), "replication", o.handleUpdated)
	api(v("/sobjects/{object}/updated/{$}"), "replication", o.handleUpdated)
	api(v("/sobjects/{object}/deleted"), "replication", o.handleDeleted)
	api(v("/sobjects/{object}/deleted/{$}"), "replication", o.handleDeleted)
	api(v("/sobjects/{object}/{id}"), "sobject", o.handleRecord)
	api(v("/sobjects/{object}/{field}/{value}"), "sobject", o.handleByField)

	api(v("/query"), "query", o.handleQuery(false))
	api(v("/query/{$}"), "query", o.handleQuery(false))
	api(v("/query/{locator}"), "queryMore", o.handleQueryMore)
	api(v("/queryAll"), "query", o.handleQuery(true))
	api(v("/queryAll/{$}"), "query", o.handleQuery(true))
	api(v("/queryAll/{locator}"), "queryMore", o.handleQueryMore)

	api(v("/tooling/query"), "tooling", o.handleToolingQuery)
	api(v("/tooling/query/{$}"), "tooling", o.handleToolingQuery)
	api(v("/search"), "search", o.handleSearch)
	api(v("/search/{$}"), "search", o.handleSearch)
	api(v("/parameterizedSearch"), "search", o.handleParameterizedSearch)
	api(v("/parameterizedSearch/{$}"), "search", o.handleParameterizedSearch)

	api(v("/composite"), "composite", o.handleComposite)
	api(v("/composite/{$}"), "composite", o.handleComposite)
	api(v("/composite/batch"), "composite", o.handleCompositeBatch)
	api(v("/composite/sobjects"), "composite", o.handleCollections)
	api(v("/composite/sobjects/{$}"), "composite", o.handleCollections)
	api(v("/composite/sobjects/{object}"), "composite", o.handleCollectionObject)
	api(v("/composite/sobjects/{object}/{field}"), "composite", o.handleCollectionObject)

	api(v("/jobs/query"), "bulk", o.handleQueryJobs)
	api(v("/jobs/query/{$}"), "bulk", o.handleQueryJobs)
	api(v("/jobs/query/{job}"), "bulkPoll", o.handleQueryJob)
	api(v("/jobs/query/{job}/results"), "bulkResults", o.handleQueryResults)
	api(v("/jobs/ingest"), "bulk", o.handleIngestJobs)
	api(v("/jobs/ingest/{$}"), "bulk", o.handleIngestJobs)
	api(v("/jobs/ingest/{job}"), "bulkPoll", o.handleIngestJob)
	api(v("/jobs/ingest/{job}/batches"), "bulk", o.handleIngestUpload)
	api(v("/jobs/ingest/{job}/successfulResults"), "bulkResults", o.handleIngestResults("successfulResults"))
	api(v("/jobs/ingest/{job}/failedResults"), "bulkResults", o.handleIngestResults("failedResults"))
	api(v("/jobs/ingest/{job}/unprocessedrecords"), "bulkResults", o.handleIngestResults("unprocessedrecords"))

	m.HandleFunc("/services/oauth2/authorize", o.handleAuthorize)
	m.HandleFunc("/services/oauth2/token", o.handleToken)
	m.HandleFunc("POST /services/Soap/u/{version}", o.handleSOAPLogin)
	m.HandleFunc("/services/oauth2/revoke", o.handleRevoke)
	m.HandleFunc("/services/oauth2/userinfo", o.handleUserinfo)
	m.HandleFunc("/services/oauth2/introspect", o.handleIntrospect)
	m.HandleFunc("GET /id/{org}/{user}", o.handleID)

	o.streaming(m)
	o.pubsubControlRoutes(m)
	o.controlRoutes(m)
	o.uiRoutes(m)
}
