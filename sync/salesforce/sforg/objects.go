package sforg

import "time"

// The metadata of a fresh org: Salesforce's standard sales and service objects with their real API
// names, types, lengths and required fields (createable, not nillable, no default: Contact.LastName,
// Opportunity.Name/StageName/CloseDate …), compound address and name fields, and one custom object.
// Field lists are the commonly used subset of each object, not every field Salesforce has.

var (
	industries = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction", "Consulting",
		"Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
		"Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail",
		"Shipping", "Technology", "Telecommunications", "Transportation", "Utilities", "Other"}
	leadSources = []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
	ratings     = []string{"Hot", "Warm", "Cold"}
	// Stages sort in this (sales process) order, not alphabetically.
	stages = []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
		"Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}
	salutations = []string{"Mr.", "Ms.", "Mrs.", "Dr.", "Prof."}
)

// standardObjects returns the metadata of a fresh org.
func standardObjects(now time.Time) []*ObjectDef {
	with := func(fs []*FieldDef, more ...*FieldDef) []*FieldDef { return append(fs, more...) }
	withAll := func(fs []*FieldDef, groups ...[]*FieldDef) []*FieldDef {
		for _, g := range groups {
			fs = append(fs, g...)
		}
		return fs
	}
	name := func(length int) *FieldDef { return required(str("Name", "Name", length)) }
	desc := func() *FieldDef { return typed("Description", "Description", "textarea", 32000) }
	// A person's name: Salutation, FirstName and LastName make up the read-only Name.
	personName := func(lastRequired bool) []*FieldDef {
		last := str("LastName", "Last Name", 80)
		if lastRequired {
			last = required(last)
		}
		parts := []*FieldDef{picklist("Salutation", "Salutation", salutations...), str("FirstName", "First Name", 40), last}
		for _, p := range parts {
			p.Compound = "Name"
		}
		return append(parts, readOnly(str("Name", "Full Name", 121)))
	}
	// restrictedDefault is a required picklist with a default (Lead.Status, Case.Status …).
	restrictedDefault := func(field, label string, values ...string) *FieldDef {
		f := picklist(field, label, values...)
		f.Nillable, f.DefaultedOnCreate, f.Default, f.Restricted = false, true, values[0], true
		return f
	}
	status := func(values ...string) *FieldDef { return restrictedDefault("Status", "Status", values...) }
	// Tasks and Events point at a person (Who) and at what they are about (What), both polymorphic.
	activity := func(rel string) []*FieldDef {
		return []*FieldDef{
			children(ref("WhoId", "Name ID", "Who", "Contact", "Lead"), rel),
			children(ref("WhatId", "Related To ID", "What", "Account", "Opportunity", "Case", "Campaign", "Contract", "Order", "Asset", "Product2"), rel),
			typed("Subject", "Subject", "combobox", 255), typed("ActivityDate", "Due Date Only", "date", 0), desc(),
		}
	}

	objs := []*ObjectDef{
		object("Account", "Account", "Accounts", withAll(systemFields(true, true),
			[]*FieldDef{name(255), picklist("Type", "Account Type", "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"),
				children(ref("ParentId", "Parent Account ID", "Parent", "Account"), "ChildAccounts")},
			address("Billing", "Billing"), address("Shipping", "Shipping"),
			[]*FieldDef{typed("Phone", "Account Phone", "phone", 40), typed("Fax", "Account Fax", "phone", 40), str("AccountNumber", "Account Number", 40),
				typed("Website", "Website", "url", 255), str("Sic", "SIC Code", 20), picklist("Industry", "Industry", industries...),
				number("AnnualRevenue", "Annual Revenue", "currency", 18, 0), number("NumberOfEmployees", "Employees", "int", 8, 0),
				picklist("Ownership", "Ownership", "Public", "Private", "Subsidiary", "Other"), str("TickerSymbol", "Ticker Symbol", 20),
				picklist("Rating", "Account Rating", ratings...), str("Site", "Account Site", 80), picklist("AccountSource", "Account Source", leadSources...),
				desc(), readOnly(typed("LastActivityDate", "Last Activity", "date", 0)),
				external(str("External_Id__c", "External ID", 40)),
				custom(multi("Regions__c", "Regions", "AMER", "EMEA", "APAC", "LATAM")),
				custom(typed("Support_Opens_At__c", "Support Opens At", "time", 0))})...),
		object("Contact", "Contact", "Contacts", withAll(systemFields(true, true),
			[]*FieldDef{children(ref("AccountId", "Account ID", "Account", "Account"), "Contacts")},
			personName(true),
			[]*FieldDef{ref("ReportsToId", "Reports To ID", "ReportsTo", "Contact"), str("Title", "Title", 128), str("Department", "Department", 80)},
			address("Mailing", "Mailing"), address("Other", "Other"),
			[]*FieldDef{typed("Email", "Email", "email", 80), typed("Phone", "Business Phone", "phone", 40), typed("MobilePhone", "Mobile Phone", "phone", 40),
				typed("HomePhone", "Home Phone", "phone", 40), typed("Fax", "Business Fax", "phone", 40), str("AssistantName", "Assistant's Name", 40),
				typed("Birthdate", "Birthdate", "date", 0), picklist("LeadSource", "Lead Source", leadSources...),
				flag("HasOptedOutOfEmail", "Email Opt Out"), flag("DoNotCall", "Do Not Call"), desc(),
				readOnly(typed("LastActivityDate", "Last Activity", "date", 0)), external(str("External_Id__c", "External ID", 40))})...),
		object("Lead", "Lead", "Leads", withAll(systemFields(true, true),
			personName(true),
			[]*FieldDef{required(str("Company", "Company", 255)), str("Title", "Title", 128)},
			address("", "Lead"),
			[]*FieldDef{typed("Email", "Email", "email", 80), typed("Phone", "Phone", "phone", 40), typed("MobilePhone", "Mobile Phone", "phone", 40),
				typed("Website", "Website", "url", 255),
				status("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"),
				picklist("LeadSource", "Lead Source", leadSources...), picklist("Industry", "Industry", industries...), picklist("Rating", "Rating", ratings...),
				number("AnnualRevenue", "Annual Revenue", "currency", 18, 0), number("NumberOfEmployees", "Employees", "int", 8, 0),
				flag("HasOptedOutOfEmail", "Email Opt Out"), readOnly(flag("IsConverted", "Converted")), readOnly(typed("ConvertedDate", "Converted Date", "date", 0)),
				readOnly(ref("ConvertedAccountId", "Converted Account ID", "ConvertedAccount", "Account")),
				readOnly(ref("ConvertedContactId", "Converted Contact ID", "ConvertedContact", "Contact")),
				readOnly(ref("ConvertedOpportunityId", "Converted Opportunity ID", "ConvertedOpportunity", "Opportunity")),
				flag("IsUnreadByOwner", "Unread By Owner"), desc()})...),
		object("Opportunity", "Opportunity", "Opportunities", with(systemFields(true, true),
			children(ref("AccountId", "Account ID", "Account", "Account"), "Opportunities"), required(str("Name", "Name", 120)),
			func() *FieldDef {
				f := picklist("StageName", "Stage", stages...)
				f.Nillable, f.Restricted = false, true
				return f
			}(),
			number("Amount", "Amount", "currency", 18, 2), number("Probability", "Probability (%)", "percent", 3, 0),
			readOnly(number("ExpectedRevenue", "Expected Amount", "currency", 18, 2)), number("TotalOpportunityQuantity", "Quantity", "double", 18, 2),
			required(typed("CloseDate", "Close Date", "date", 0)), picklist("Type", "Opportunity Type", "Existing Customer - Upgrade", "Existing Customer - Replacement", "Existing Customer - Downgrade", "New Customer"),
			str("NextStep", "Next Step", 255), picklist("LeadSource", "Lead Source", leadSources...),
			readOnly(flag("IsClosed", "Closed")), readOnly(flag("IsWon", "Won")),
			picklist("ForecastCategoryName", "Forecast Category", "Omitted", "Pipeline", "Best Case", "Commit", "Closed"),
			children(ref("CampaignId", "Campaign ID", "Campaign", "Campaign"), "Opportunities"),
			children(ref("Pricebook2Id", "Price Book ID", "Pricebook2", "Pricebook2"), "Opportunities"),
			readOnly(flag("HasOpportunityLineItem", "Has Line Item")), desc())...),
		object("Case", "Case", "Cases", with(systemFields(true, true),
			numbered("CaseNumber", "Case Number", "{00000000}"),
			children(ref("AccountId", "Account ID", "Account", "Account"), "Cases"), children(ref("ContactId", "Contact ID", "Contact", "Contact"), "Cases"),
			children(ref("AssetId", "Asset ID", "Asset", "Asset"), "Cases"), children(ref("ParentId", "Parent Case ID", "Parent", "Case"), "Cases"),
			str("SuppliedName", "Web Name", 80), typed("SuppliedEmail", "Web Email", "email", 80), str("SuppliedPhone", "Web Phone", 40), str("SuppliedCompany", "Web Company", 80),
			picklist("Type", "Case Type", "Mechanical", "Electrical", "Electronic", "Structural", "Other"),
			status("New", "Working", "Escalated", "Closed"),
			picklist("Reason", "Case Reason", "Installation", "Equipment Complexity", "Performance", "Breakdown", "Equipment Design", "Feedback", "Other"),
			picklist("Origin", "Case Origin", "Phone", "Email", "Web"), str("Subject", "Subject", 255),
			restrictedDefault("Priority", "Priority", "Medium", "High", "Low"),
			readOnly(flag("IsClosed", "Closed")), readOnly(sysDate("ClosedDate", "Closed Date")), flag("IsEscalated", "Escalated"), desc())...),
		object("Task", "Task", "Tasks", withAll(systemFields(true, true),
			activity("Tasks"),
			[]*FieldDef{status("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
				restrictedDefault("Priority", "Priority", "Normal", "High", "Low"),
				readOnly(flag("IsHighPriority", "High Priority")), readOnly(flag("IsClosed", "Closed")),
				number("CallDurationInSeconds", "Call Duration", "int", 8, 0), picklist("CallType", "Call Type", "Internal", "Inbound", "Outbound"),
				str("CallDisposition", "Call Result", 255), sysDateEditable("ReminderDateTime", "Reminder Date/Time"), flag("IsReminderSet", "Reminder Set"),
				picklist("TaskSubtype", "Task Subtype", "Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")})...),
		object("Event", "Event", "Events", withAll(systemFields(true, true),
			activity("Events"),
			[]*FieldDef{str("Location", "Location", 255), flag("IsAllDayEvent", "All-Day Event"),
				sysDateEditable("ActivityDateTime", "Due Date Time"), sysDateEditable("StartDateTime", "Start Date Time"), sysDateEditable("EndDateTime", "End Date Time"),
				number("DurationInMinutes", "Duration", "int", 8, 0), picklist("ShowAs", "Show Time As", "Busy", "OutOfOffice", "Free"),
				flag("IsPrivate", "Private"), sysDateEditable("ReminderDateTime", "Reminder Date/Time"), flag("IsReminderSet", "Reminder Set")})...),
		object("User", "User", "Users", withAll(systemFields(false, false),
			[]*FieldDef{func() *FieldDef {
				f := required(str("Username", "Username", 80))
				f.Unique, f.IDLookup = true, true
				return f
			}(),
				required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40), readOnly(str("Name", "Full Name", 121)),
				str("CompanyName", "Company Name", 80), str("Department", "Department", 80), str("Title", "Title", 80)},
			address("", "User"),
			[]*FieldDef{required(typed("Email", "Email", "email", 128)), typed("Phone", "Phone", "phone", 40), typed("MobilePhone", "Mobile", "phone", 40),
				required(str("Alias", "Alias", 8)),
				func() *FieldDef {
					f := str("CommunityNickname", "Nickname", 40)
					f.Nillable, f.DefaultedOnCreate, f.Unique = false, true, true
					return f
				}(),
				flag("IsActive", "Active"),
				required(picklist("TimeZoneSidKey", "Time Zone", "America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Tokyo", "GMT")),
				required(picklist("LocaleSidKey", "Locale", "en_US", "en_GB", "fr_FR", "de_DE", "ja_JP")),
				required(picklist("EmailEncodingKey", "Email Encoding", "UTF-8", "ISO-8859-1")),
				required(picklist("LanguageLocaleKey", "Language", "en_US", "fr", "de", "ja")),
				required(children(ref("ProfileId", "Profile ID", "Profile", "Profile"), "Users")),
				ref("ManagerId", "Manager ID", "Manager", "User"),
				readOnly(picklist("UserType", "User Type", "Standard", "PowerPartner", "CspLitePortal", "CustomerSuccess", "PowerCustomerSuccess", "CsnOnly", "Guest")),
				readOnly(sysDate("LastLoginDate", "Last Login"))})...),
		object("Profile", "Profile", "Profiles", with(systemFields(false, false),
			required(str("Name", "Name", 255)), readOnly(picklist("UserType", "User Type", "Standard", "PowerPartner", "Guest")),
			typed("Description", "Description", "textarea", 255))...),
		object("Campaign", "Campaign", "Campaigns", with(systemFields(true, true),
			required(str("Name", "Name", 80)), children(ref("ParentId", "Parent Campaign ID", "Parent", "Campaign"), "ChildCampaigns"),
			picklist("Type", "Type", "Conference", "Webinar", "Trade Show", "Public Relations", "Partners", "Referral Program", "Advertisement", "Banner Ads", "Direct Mail", "Email", "Telemarketing", "Other"),
			picklist("Status", "Status", "Planned", "In Progress", "Completed", "Aborted"),
			typed("StartDate", "Start Date", "date", 0), typed("EndDate", "End Date", "date", 0),
			number("ExpectedRevenue", "Expected Revenue in Campaign", "currency", 18, 0), number("BudgetedCost", "Budgeted Cost in Campaign", "currency", 18, 0),
			number("ActualCost", "Actual Cost in Campaign", "currency", 18, 0), number("ExpectedResponse", "Expected Response (%)", "percent", 10, 2),
			number("NumberSent", "Num Sent in Campaign", "double", 18, 0), flag("IsActive", "Active"), desc(),
			readOnly(number("NumberOfLeads", "Leads in Campaign", "int", 9, 0)), readOnly(number("NumberOfContacts", "Contacts in Campaign", "int", 9, 0)),
			readOnly(number("NumberOfResponses", "Responses in Campaign", "int", 9, 0)), readOnly(number("NumberOfOpportunities", "Opportunities in Campaign", "int", 9, 0)))...),
		object("CampaignMember", "Campaign Member", "Campaign Members", with(systemFields(false, true),
			required(children(ref("CampaignId", "Campaign ID", "Campaign", "Campaign"), "CampaignMembers")),
			children(ref("LeadId", "Lead ID", "Lead", "Lead"), "CampaignMembers"), children(ref("ContactId", "Contact ID", "Contact", "Contact"), "CampaignMembers"),
			func() *FieldDef {
				f := picklist("Status", "Status", "Planned", "Received", "Responded", "Sent")
				f.DefaultedOnCreate, f.Default = true, "Sent"
				return f
			}(),
			readOnly(flag("HasResponded", "Responded")), readOnly(typed("FirstRespondedDate", "First Responded Date", "date", 0)))...),
		object("Product2", "Product", "Products", with(systemFields(false, true),
			required(str("Name", "Product Name", 255)), str("ProductCode", "Product Code", 255), typed("Description", "Product Description", "textarea", 4000),
			flag("IsActive", "Active"), picklist("Family", "Product Family", "None", "Hardware", "Software", "Services"),
			picklist("QuantityUnitOfMeasure", "Quantity Unit Of Measure", "Each", "Hour", "Kilogram"), str("StockKeepingUnit", "Product SKU", 180),
			typed("DisplayUrl", "Display URL", "url", 1000), func() *FieldDef {
				f := str("ExternalId", "External ID", 255)
				f.ExternalID, f.IDLookup = true, true
				return f
			}())...),
		object("Pricebook2", "Price Book", "Price Books", with(systemFields(false, true),
			required(str("Name", "Price Book Name", 255)), flag("IsActive", "Active"), readOnly(flag("IsStandard", "Is Standard Price Book")),
			typed("Description", "Description", "textarea", 255))...),
		object("PricebookEntry", "Price Book Entry", "Price Book Entries", with(systemFields(false, true),
			readOnly(str("Name", "Product Name", 255)),
			required(children(ref("Pricebook2Id", "Price Book ID", "Pricebook2", "Pricebook2"), "PricebookEntries")),
			required(children(ref("Product2Id", "Product ID", "Product2", "Product2"), "PricebookEntries")),
			required(number("UnitPrice", "List Price", "currency", 18, 2)), flag("IsActive", "Active"), flag("UseStandardPrice", "Use Standard Price"),
			readOnly(str("ProductCode", "Product Code", 255)))...),
		object("Contract", "Contract", "Contracts", withAll(systemFields(true, true),
			[]*FieldDef{required(children(ref("AccountId", "Account ID", "Account", "Account"), "Contracts")),
				numbered("ContractNumber", "Contract Number", "{00000000}"), typed("StartDate", "Contract Start Date", "date", 0),
				readOnly(typed("EndDate", "Contract End Date", "date", 0)), number("ContractTerm", "Contract Term", "int", 4, 0),
				restrictedDefault("Status", "Status", "Draft", "In Approval Process", "Activated"),
				picklist("OwnerExpirationNotice", "Owner Expiration Notice", "15", "30", "45", "60", "90", "120"),
				typed("SpecialTerms", "Special Terms", "textarea", 4000), readOnly(sysDate("ActivatedDate", "Activated Date")), desc()},
			address("Billing", "Billing"))...),
		object("Order", "Order", "Orders", withAll(systemFields(true, true),
			[]*FieldDef{required(children(ref("AccountId", "Account ID", "Account", "Account"), "Orders")),
				numbered("OrderNumber", "Order Number", "{00000100}"),
				children(ref("Pricebook2Id", "Price Book ID", "Pricebook2", "Pricebook2"), "Orders"),
				children(ref("ContractId", "Contract ID", "Contract", "Contract"), "Orders"),
				required(typed("EffectiveDate", "Order Start Date", "date", 0)), typed("EndDate", "Order End Date", "date", 0),
				restrictedDefault("Status", "Status", "Draft", "Activated"), picklist("Type", "Order Type", "New", "Renewal", "Upsell"),
				str("PoNumber", "PO Number", 80), readOnly(number("TotalAmount", "Order Amount", "currency", 18, 2)), desc()},
			address("Billing", "Billing"), address("Shipping", "Shipping"))...),
		object("OrderItem", "Order Product", "Order Products", with(systemFields(false, true),
			numbered("OrderItemNumber", "Order Product Number", "{0000000000}"),
			required(children(ref("OrderId", "Order ID", "Order", "Order"), "OrderItems")),
			required(children(ref("PricebookEntryId", "Price Book Entry ID", "PricebookEntry", "PricebookEntry"), "OrderItems")),
			readOnly(children(ref("Product2Id", "Product ID", "Product2", "Product2"), "OrderItems")),
			required(number("Quantity", "Quantity", "double", 18, 2)), required(number("UnitPrice", "Unit Price", "currency", 18, 2)),
			readOnly(number("ListPrice", "List Price", "currency", 18, 2)), readOnly(number("TotalPrice", "Total Price", "currency", 18, 2)),
			typed("ServiceDate", "Start Date", "date", 0), typed("EndDate", "End Date", "date", 0), str("Description", "Line Description", 255))...),
		object("Asset", "Asset", "Assets", with(systemFields(true, true),
			required(str("Name", "Asset Name", 255)), children(ref("AccountId", "Account ID", "Account", "Account"), "Assets"),
			children(ref("ContactId", "Contact ID", "Contact", "Contact"), "Assets"), children(ref("Product2Id", "Product ID", "Product2", "Product2"), "Assets"),
			str("SerialNumber", "Serial Number", 80), typed("InstallDate", "Install Date", "date", 0), typed("PurchaseDate", "Purchase Date", "date", 0),
			typed("UsageEndDate", "Usage End Date", "date", 0), picklist("Status", "Status", "Purchased", "Shipped", "Installed", "Registered", "Obsolete"),
			number("Price", "Price", "currency", 18, 2), number("Quantity", "Quantity", "double", 18, 2), flag("IsCompetitorProduct", "Competitor Asset"), desc())...),
		object("Attachment", "Attachment", "Attachments", with(systemFields(true, true),
			required(children(ref("ParentId", "Parent ID", "Parent", "Account", "Contact", "Lead", "Opportunity", "Case", "Contract", "Order", "Asset", "Invoice__c"), "Attachments")),
			required(str("Name", "File Name", 255)), flag("IsPrivate", "Private"), str("ContentType", "Content Type", 120),
			readOnly(number("BodyLength", "Body Length", "int", 18, 0)), required(typed("Body", "Body", "base64", 0)),
			typed("Description", "Description", "textarea", 500))...),
		object("UserPermissionAccess", "User Permission Access", "User Permission Access", idField(),
			readOnly(flag("PermissionsApiEnabled", "API Enabled")), readOnly(flag("PermissionsViewAllData", "View All Data")),
			readOnly(flag("PermissionsModifyAllData", "Modify All Data")), readOnly(flag("PermissionsViewSetup", "View Setup and Configuration")),
			readOnly(flag("PermissionsCustomizeApplication", "Customize Application"))),
		object("Invoice__c", "Invoice", "Invoices", withAll(systemFields(true, true),
			[]*FieldDef{numbered("Name", "Invoice Number", "INV-{0000}"),
				custom(children(ref("Account__c", "Account", "Account__r", "Account"), "Invoices__r")), external(str("External_Id__c", "External ID", 40)),
				custom(number("Amount__c", "Amount", "currency", 16, 2)),
				func() *FieldDef {
					f := custom(picklist("Status__c", "Status", "Draft", "Sent", "Paid", "Void"))
					f.DefaultedOnCreate, f.Default, f.Restricted = true, "Draft", true
					return f
				}(),
				custom(typed("Due_Date__c", "Due Date", "date", 0)), custom(flag("Paid__c", "Paid")),
				custom(typed("Notes__c", "Notes", "textarea", 32768)),
				custom(multi("Tags__c", "Tags", "Urgent", "Disputed", "Recurring", "Partner")),
				custom(number("Tax_Rate__c", "Tax Rate", "percent", 5, 2)), custom(number("Exchange_Rate__c", "Exchange Rate", "double", 18, 6)),
				custom(sysDateEditable("Sent_At__c", "Sent At")), custom(typed("Reminder_Time__c", "Reminder Time", "time", 0)),
				custom(typed("Bank_Account__c", "Bank Account", "encryptedstring", 40))},
			location("Ship_To__c", "Ship To", 6))...),
	}
	for _, o := range objs {
		o.Modified = now
		switch o.Name {
		case "Invoice__c":
			o.Custom, o.KeyPrefix = true, customPrefix(23)
			o.Rules = []Rule{{Condition: "Amount__c < 0", Message: "Amount must not be negative.", Field: "Amount__c"}}
		case "User":
			o.NotDeletable = true
		case "Profile":
			o.NotCreateable, o.NotUpdateable, o.NotDeletable = true, true, true
		case "UserPermissionAccess":
			o.NotCreateable, o.NotUpdateable, o.NotDeletable, o.System = true, true, true, true
		}
	}
	return objs
}

// sysDateEditable is a datetime a user sets (ReminderDateTime, StartDateTime).
func sysDateEditable(name, label string) *FieldDef { return typed(name, label, "datetime", 0) }
