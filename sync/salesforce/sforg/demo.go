package sforg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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

// generate adds the records; with events it returns their change events, to publish once the
// lock is released. Records of an object without validation rules, unique fields or derived fields
// are held as one compact block (genBlock); the others are saved one by one, with the same values.
func (o *Org) generate(object string, n int, seed int64, events bool, at time.Time) ([]Change, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return nil, fmt.Errorf("no object %s", object)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("generate %d %s records: at most %d at a time", n, object, math.MaxInt32)
	}
	base := len(t.rows)
	if at.IsZero() {
		defer o.transaction()() // a data load commits as one transaction: one stamp
	} else {
		// Records committed long ago: stamped then, in whole seconds as Salesforce stamps.
		o.pinnedStamp, o.pinOnce = at.UTC().Truncate(time.Second), false
		defer func() { o.pinnedStamp = time.Time{} }()
	}
	specs := genSpecs(t.def, seed)
	var rows []*row
	if o.saveGenerated || len(t.def.Rules) > 0 || len(t.unique) > 0 || derives(t.def) {
		for i := 0; i < n; i++ {
			vals := make(map[int]any, len(specs))
			for fi, s := range specs {
				vals[fi] = s.value(base + i + 1)
			}
			saved, _, err := o.save(t, nil, vals, o.userID)
			if err != nil {
				return nil, fmt.Errorf("generate %s record %d: %w", object, i, err)
			}
			if events {
				rows = append(rows, saved)
			}
		}
	} else {
		b, err := o.newBlock(t, n, base, specs)
		if err != nil {
			return nil, fmt.Errorf("generate %s record 0: %w", object, err)
		}
		if events {
			for i := range b.rows {
				rows = append(rows, &b.rows[i])
			}
		}
	}
	var changes []Change
	for _, r := range rows {
		changes = append(changes, o.changeOf(t, r, "CREATE", nonNull(t, r, nil), "com/salesforce/api/bulk"))
	}
	return changes, nil
}

// newBlock adds n generated records of t as one block, with the values save would give them:
// the generated fields, then defaults, autonumbers, the owner and the system fields.
func (o *Org) newBlock(t *table, n, base int, specs map[int]genSpec) (*genBlock, *apiError) {
	def := t.def
	fields := make([]genField, len(def.Fields))
	autos := 0
	for i, f := range def.Fields {
		if _, ok := specs[i]; !ok && f.AutoNumber {
			autos++
		}
	}
	k := 0
	for i, f := range def.Fields {
		if s, ok := specs[i]; ok {
			fields[i] = genField{kind: genRandom, spec: s, first: base + 1}
			continue
		}
		switch {
		case f.AutoNumber:
			k++
			fields[i] = genField{kind: genAuto, format: f.Default, first: t.autoNum + k, step: autos}
		case f.Type == "boolean" && f.DefaultedOnCreate:
			fields[i] = genField{kind: genConst, v: f.Default == "true"}
		case f.Type == "picklist" && f.Default != "":
			fields[i] = genField{kind: genConst, v: f.Default}
		}
	}
	if i, f := def.field("OwnerId"); f != nil && fields[i].kind == genNull {
		fields[i] = genField{kind: genConst, v: o.userID}
	}
	var missing []string
	for i, f := range def.Fields {
		if f.Createable && !f.Nillable && !f.DefaultedOnCreate && fields[i].kind == genNull {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, &apiError{Status: 400, Code: "REQUIRED_FIELD_MISSING", Fields: missing, Message: fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", "))}
	}
	now := o.stamp()
	set := func(name string, v any) {
		if i, f := def.field(name); f != nil {
			fields[i] = genField{kind: genConst, v: v}
		}
	}
	fields[0] = genField{kind: genID}
	set("CreatedDate", now)
	set("CreatedById", o.userID)
	set("IsDeleted", false)
	set("LastModifiedDate", now)
	set("LastModifiedById", o.userID)
	set("SystemModstamp", now)
	t.autoNum += autos * n
	b := &genBlock{prefix: def.KeyPrefix, firstSeq: o.seq[def.KeyPrefix] + 1, rows: make([]row, n), fields: fields}
	o.seq[def.KeyPrefix] += uint64(n)
	t.rows = slices.Grow(t.rows, n)
	for i := range b.rows {
		b.rows[i] = row{gen: b, genIndex: int32(i)}
		t.rows = append(t.rows, &b.rows[i])
	}
	t.blocks = append(t.blocks, b)
	return b, nil
}
