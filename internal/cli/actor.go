package cli

import "pgforce/sync/audit"

// Actor names the person running a command for the audit trail (cli:$USER).
func Actor(getenv func(string) string) audit.Actor {
	who := getenv("USER")
	if who == "" {
		who = "unknown"
	}
	return audit.Actor{Name: "cli:" + who, Kind: audit.ActorCLI}
}
