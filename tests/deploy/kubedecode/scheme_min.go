//go:build k8s_min

package main

import "k8s.io/apimachinery/pkg/runtime"

// The oldest release knows the built-in kinds only: custom resources (the Prometheus
// Operator's, Strimzi's) do not change with the Kubernetes release and are decoded by the
// newest build.
func addCustom(s *runtime.Scheme) error { return nil }
