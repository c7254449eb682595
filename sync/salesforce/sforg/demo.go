package sforg

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	companyWords = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Soylent", "Cyberdyne",
		"Tyrell", "Aperture", "Oscorp", "Pied Piper", "Massive Dynamic", "Gringotts", "Duff", "Virtucon", "Monarch", "Nakatomi", "Dunder"}
	companySuffix = []string{"Corp", "Inc", "Ltd", "Group", "Labs", "Systems", "Holdings", "Industries", "Partners", "GmbH"}
	firstNames    = []string{"Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Edsger", "Frances", "John",
		"Katherine", "Tim", "Sophie", "Marc", "Hedy", "Niklaus", "Anita", "Guido", "Lea", "Omar", "Yuki", "Priya"}
	lastNames = []string{"Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Perlman", "Dijkstra",
		"Allen", "Backus", "Johnson", "Berners-Lee", "Wilson", "Andreessen", "Lamarr", "Wirth", "Borg", "van Rossum", "Nakamura", "Haddad"}
	cities = []string{"San Francisco", "New York", "London", "Berlin", "Paris", "Tokyo", "Sydney", "Toronto", "Dublin", "Amsterdam", "Austin", "Madrid"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// seedDemo fills the org with a few hundred related, realistic records, the same for the same seed.
func (o *Org) seedDemo(seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5f0a))
	accounts := o.table("Account")
	var accountIDs []string
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("%s %s", pick(r, companyWords), pick(r, companySuffix))
		if i >= len(companyWords) {
			name = fmt.Sprintf("%s %s %d", pick(r, companyWords), pick(r, companySuffix), i)
		}
		rec := o.mustSave(accounts, map[string]any{
			"Name": name, "Type": pick(r, []string{"Prospect", "Customer - Direct", "Customer - Channel", "Technology Partner"}),
			"Industry": pick(r, industries), "BillingCity": pick(r, cities), "Phone": fmt.Sprintf("+1 415 555 %04d", r.IntN(10000)),
			"Website":           "https://www." + strings.ToLower(strings.ReplaceAll(name, " ", "")) + ".example",
			"NumberOfEmployees": float64(10 + r.IntN(20000)), "AnnualRevenue": float64(r.IntN(500)) * 100000,
			"Rating": pick(r, ratings), "External_Id__c": fmt.Sprintf("ACC-%04d", i+1),
		})
		accountIDs = append(accountIDs, accounts.id(rec))
	}
	contacts := o.table("Contact")
	var contactIDs []string
	for i := 0; i < 150; i++ {
		first, last := pick(r, firstNames), pick(r, lastNames)
		rec := o.mustSave(contacts, map[string]any{
			"AccountId": pick(r, accountIDs), "FirstName": first, "LastName": last, "Title": pick(r, []string{"CTO", "VP Engineering", "Buyer", "CEO", "Data Lead"}),
			"Email": strings.ToLower(first+"."+strings.ReplaceAll(last, " ", "")) + fmt.Sprintf("%d@example.com", i), "Phone": fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000)),
			"LeadSource": pick(r, leadSources), "Birthdate": time.Date(1960+r.IntN(40), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC),
			"External_Id__c": fmt.Sprintf("CON-%05d", i+1),
		})
		contactIDs = append(contactIDs, contacts.id(rec))
	}
	leads := o.table("Lead")
	for i := 0; i < 80; i++ {
		o.mustSave(leads, map[string]any{"FirstName": pick(r, firstNames), "LastName": pick(r, lastNames),
			"Company": fmt.Sprintf("%s %s", pick(r, companyWords), pick(r, companySuffix)), "Status": pick(r, []string{"Open - Not Contacted", "Working - Contacted"}),
			"LeadSource": pick(r, leadSources), "Industry": pick(r, industries), "Email": fmt.Sprintf("lead%d@example.org", i)})
	}
	opps := o.table("Opportunity")
	for i := 0; i < 90; i++ {
		o.mustSave(opps, map[string]any{"AccountId": pick(r, accountIDs), "Name": fmt.Sprintf("%s deal %d", pick(r, companyWords), i+1),
			"StageName": pick(r, stages), "Amount": float64(1000 + r.IntN(250000)), "CloseDate": o.opts.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, r.IntN(180)-60),
			"Probability": float64(r.IntN(10) * 10)})
	}
	cases := o.table("Case")
	for i := 0; i < 70; i++ {
		o.mustSave(cases, map[string]any{"AccountId": pick(r, accountIDs), "ContactId": pick(r, contactIDs), "Subject": pick(r, []string{"Cannot log in", "Invoice question", "Feature request", "Outage report", "Data export"}),
			"Status": pick(r, []string{"New", "Working", "Escalated", "Closed"}), "Priority": pick(r, []string{"High", "Medium", "Low"}), "Origin": pick(r, []string{"Phone", "Email", "Web"})})
	}
	invoices := o.table("Invoice__c")
	for i := 0; i < 120; i++ {
		o.mustSave(invoices, map[string]any{"Account__c": pick(r, accountIDs), "External_Id__c": fmt.Sprintf("INV-EXT-%05d", i+1),
			"Amount__c": float64(r.IntN(100000)) / 4, "Status__c": pick(r, []string{"Draft", "Sent", "Paid"}),
			"Due_Date__c": o.opts.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, r.IntN(90)-30), "Paid__c": r.IntN(3) == 0})
	}
	o.seedSales(r, accountIDs, contactIDs)
}

// seedSales adds the rest of a sales org: products in the standard price book, campaigns with
// members, tasks and events on accounts and contacts, contracts and orders with their products.
func (o *Org) seedSales(r *rand.Rand, accountIDs, contactIDs []string) {
	today := o.opts.Now().UTC().Truncate(24 * time.Hour)
	book := o.mustSave(o.table("Pricebook2"), map[string]any{"Name": "Standard Price Book", "IsActive": true, "IsStandard": true})
	bookID := o.table("Pricebook2").id(book)
	var entryIDs []string
	var prices []float64
	for i, p := range []struct {
		name, family string
		price        float64
	}{{"Sync Engine Licence", "Software", 1200}, {"Postgres Appliance", "Hardware", 8900}, {"Onboarding Workshop", "Services", 2500},
		{"Premium Support", "Services", 600}, {"Connector Pack", "Software", 350}} {
		prod := o.mustSave(o.table("Product2"), map[string]any{"Name": p.name, "ProductCode": fmt.Sprintf("PGF-%03d", i+1), "Family": p.family,
			"IsActive": true, "QuantityUnitOfMeasure": "Each"})
		entry := o.mustSave(o.table("PricebookEntry"), map[string]any{"Pricebook2Id": bookID, "Product2Id": o.table("Product2").id(prod),
			"UnitPrice": p.price, "IsActive": true})
		entryIDs, prices = append(entryIDs, o.table("PricebookEntry").id(entry)), append(prices, p.price)
	}
	campaigns := o.table("Campaign")
	for i, c := range []string{"Spring Webinar", "Data Summit Booth", "Partner Referral Drive", "Winter Newsletter"} {
		camp := o.mustSave(campaigns, map[string]any{"Name": c, "Type": pick(r, []string{"Webinar", "Trade Show", "Partners", "Email"}),
			"Status": pick(r, []string{"Planned", "In Progress", "Completed"}), "StartDate": today.AddDate(0, i*2-4, 0), "IsActive": i < 3,
			"BudgetedCost": float64(5000 + r.IntN(20000))})
		for j := 0; j < 5; j++ {
			o.mustSave(o.table("CampaignMember"), map[string]any{"CampaignId": campaigns.id(camp), "ContactId": contactIDs[(i*5+j)%len(contactIDs)],
				"Status": pick(r, []string{"Sent", "Responded"})})
		}
	}
	for i := 0; i < 40; i++ {
		o.mustSave(o.table("Task"), map[string]any{"Subject": pick(r, []string{"Call", "Send quote", "Follow up", "Email"}), "WhoId": pick(r, contactIDs),
			"WhatId": pick(r, accountIDs), "ActivityDate": today.AddDate(0, 0, r.IntN(30)-10),
			"Status": pick(r, []string{"Not Started", "In Progress", "Completed"}), "Priority": pick(r, []string{"High", "Normal", "Low"})})
	}
	for i := 0; i < 15; i++ {
		start := today.AddDate(0, 0, r.IntN(20)-5).Add(time.Duration(9+r.IntN(8)) * time.Hour)
		o.mustSave(o.table("Event"), map[string]any{"Subject": pick(r, []string{"Demo", "Kick-off", "Quarterly review"}), "WhoId": pick(r, contactIDs),
			"WhatId": pick(r, accountIDs), "StartDateTime": start, "EndDateTime": start.Add(time.Hour), "ActivityDateTime": start, "DurationInMinutes": float64(60)})
	}
	for i := 0; i < 10; i++ {
		account := accountIDs[i]
		contract := o.mustSave(o.table("Contract"), map[string]any{"AccountId": account, "StartDate": today.AddDate(0, -i, 0), "ContractTerm": float64(12), "Status": "Activated"})
		order := o.mustSave(o.table("Order"), map[string]any{"AccountId": account, "EffectiveDate": today.AddDate(0, 0, -i), "Pricebook2Id": bookID,
			"ContractId": o.table("Contract").id(contract), "Status": "Draft"})
		for j := 0; j < 1+r.IntN(3); j++ {
			k := r.IntN(len(entryIDs))
			o.mustSave(o.table("OrderItem"), map[string]any{"OrderId": o.table("Order").id(order), "PricebookEntryId": entryIDs[k],
				"Quantity": float64(1 + r.IntN(5)), "UnitPrice": prices[k]})
		}
	}
}

// mustSave stores a record given by field name; seed data is valid by construction.
func (o *Org) mustSave(t *table, fields map[string]any) *row {
	vals := map[int]any{}
	for name, v := range fields {
		vals[idx(t, name)] = v
	}
	r, _, err := o.save(t, nil, vals, o.userID)
	if err != nil {
		panic(fmt.Sprintf("sforg: seed %s: %v", t.def.Name, err))
	}
	return r
}

// Generate adds n records of an object with deterministic values (Name/LastName/Company and any
// required fields filled), for load tests and benchmarks. It returns the new ids' count.
func (o *Org) Generate(object string, n int, seed int64) error {
	_, err := o.generate(object, n, seed, false, time.Time{})
	return err
}

// GenerateStamped is Generate for records created long ago: they are stamped at, as a data load that
// committed then would have left them.
func (o *Org) GenerateStamped(object string, n int, seed int64, at time.Time) error {
	_, err := o.generate(object, n, seed, false, at)
	return err
}

// Burst adds n generated records in one transaction, as a data load through the API does, and
// publishes a CREATE change event for each (Generate publishes none: it seeds).
func (o *Org) Burst(object string, n int, seed int64) error {
	changes, err := o.generate(object, n, seed, true, time.Time{})
	if err != nil {
		return err
	}
	o.notifyChanges(changes)
	return nil
}

// generate saves the records; with events it returns their change events, to publish once the
// lock is released.
func (o *Org) generate(object string, n int, seed int64, events bool, at time.Time) ([]Change, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return nil, fmt.Errorf("no object %s", object)
	}
	var changes []Change
	r := rand.New(rand.NewPCG(uint64(seed), 0xb07))
	base := len(t.rows)
	if at.IsZero() {
		defer o.transaction()() // a data load commits as one transaction: one stamp
	} else {
		// Records committed long ago: stamped then, in whole seconds as Salesforce stamps.
		o.pinnedStamp, o.pinOnce = at.UTC().Truncate(time.Second), false
		defer func() { o.pinnedStamp = time.Time{} }()
	}
	for i := 0; i < n; i++ {
		vals := map[int]any{}
		for fi, f := range t.def.Fields {
			// Optional parts of compound fields (addresses, geolocations) stay empty, as in most imports.
			if !f.Createable || (f.Nillable && f.Compound != "" && f.Compound != "Name") {
				continue
			}
			switch {
			case f.ExternalID:
				vals[fi] = fmt.Sprintf("GEN-%s-%d", t.def.KeyPrefix, base+i+1)
			case f.Type == "reference":
			case f.Type == "picklist" && len(f.Picklist) > 0:
				vals[fi] = f.Picklist[r.IntN(len(f.Picklist))]
			case f.Type == "multipicklist" && len(f.Picklist) > 0:
				vals[fi] = f.Picklist[r.IntN(len(f.Picklist))]
			case f.Type == "time":
				vals[fi] = time.Date(1970, 1, 1, r.IntN(24), r.IntN(4)*15, 0, 0, time.UTC)
			case f.Type == "base64":
				vals[fi] = []byte(fmt.Sprintf("generated %s %d", t.def.Name, base+i+1))
			case f.Type == "boolean":
				vals[fi] = r.IntN(2) == 0
			case f.Type == "int":
				vals[fi] = float64(r.IntN(100000))
			case f.Type == "double" || f.Type == "currency" || f.Type == "percent":
				vals[fi] = float64(r.IntN(1000000)) / 100
			case f.Type == "date":
				vals[fi] = time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
			case f.Type == "datetime":
				vals[fi] = time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), 0, 0, time.UTC)
			case f.Type == "email":
				vals[fi] = fmt.Sprintf("user%d@example.com", base+i)
			case f.Type == "textarea" && f.Length > 1000:
			case f.Type == "string" || f.Type == "textarea" || f.Type == "phone" || f.Type == "url" || f.Type == "combobox" || f.Type == "encryptedstring":
				s := fmt.Sprintf("%s %s %d", pick(r, companyWords), pick(r, lastNames), base+i+1)
				if f.Length > 0 && len(s) > f.Length {
					s = s[:f.Length]
				}
				vals[fi] = s
			}
		}
		saved, _, err := o.save(t, nil, vals, o.userID)
		if err != nil {
			return nil, fmt.Errorf("generate %s record %d: %w", object, i, err)
		}
		if events {
			changes = append(changes, o.changeOf(t, saved, "CREATE", nonNull(t, saved, nil), "com/salesforce/api/bulk"))
		}
	}
	return changes, nil
}
