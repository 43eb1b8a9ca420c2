module earshot.dev/tests/deploy/deploycheck

go 1.26.0

require (
	golang.org/x/net v0.58.0
	gopkg.in/yaml.v3 v3.0.1
)

require golang.org/x/text v0.41.0 // indirect
