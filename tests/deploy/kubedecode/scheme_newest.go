//go:build !k8s_min

package main

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The newest release also decodes the Prometheus Operator's ServiceMonitor and PrometheusRule
// with the operator's own Go types.
func addCustom(s *runtime.Scheme) error { return monitoringv1.AddToScheme(s) }
