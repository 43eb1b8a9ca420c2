{{/*
Names. Component resources are "<fullname>-<component>"; the fullname is cut to 45 characters
so that StatefulSet pod names and their controller-revision-hash labels stay within 63.
*/}}
{{- define "earshot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "earshot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>"; call with (dict "root" $ "component" "gateway"). */}}
{{- define "earshot.componentName" -}}
{{- printf "%s-%s" (include "earshot.fullname" .root) .component -}}
{{- end -}}

{{- define "earshot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "earshot.labels" -}}
helm.sh/chart: {{ include "earshot.chart" . }}
{{ include "earshot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: earshot
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "earshot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "earshot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels and selector of one component; call with (dict "root" $ "component" "gateway"). */}}
{{- define "earshot.componentLabels" -}}
{{ include "earshot.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "earshot.componentSelectorLabels" -}}
{{ include "earshot.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "earshot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "earshot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "earshot.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Paths inside the pods. */}}
{{- define "earshot.configDir" -}}/etc/earshot/config{{- end -}}
{{- define "earshot.dataDir" -}}/var/lib/earshot{{- end -}}
{{- define "earshot.secretsDir" -}}/etc/earshot/secrets{{- end -}}
{{- define "earshot.kafkaDir" -}}/etc/earshot/kafka{{- end -}}
{{- define "earshot.grpcTlsDir" -}}/etc/earshot/grpc-tls{{- end -}}
{{- define "earshot.streamTokensDir" -}}/etc/earshot/stream-tokens{{- end -}}

{{- define "earshot.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}

{{/*
The earshot config file (earshot.yaml in the ConfigMap): the keys of README.md
"Configuration" and the services' READMEs ("Config"). Listener addresses come from the
environment (EARSHOT_*_ADDR, see earshot.podTemplate); secrets from EARSHOT_*_FILE.
*/}}
{{- define "earshot.configFile" -}}
{{- $v := .Values -}}
{{- $k := $v.kafka -}}
{{- $kafka := dict "bootstrap" (required "kafka.bootstrap is required: the bootstrap list of your Kafka cluster" $k.bootstrap) -}}
{{- $_ := set $kafka "security_protocol" $k.securityProtocol -}}
{{- $_ := set $kafka "delivery_timeout" $k.deliveryTimeout -}}
{{- if include "earshot.kafkaUsesSasl" . -}}
{{- $_ := set $kafka "sasl_mechanism" (required "kafka.sasl.mechanism is required with SASL" $k.sasl.mechanism) -}}
{{- $_ := set $kafka "sasl_username" (required "kafka.sasl.username is required with SASL" $k.sasl.username) -}}
{{- end -}}
{{- if $k.tls.caSecret.name -}}
{{- $_ := set $kafka "ssl_ca_location" (printf "%s/ca/%s" (include "earshot.kafkaDir" .) $k.tls.caSecret.key) -}}
{{- end -}}
{{- if $k.tls.clientCertSecret.name -}}
{{- $_ := set $kafka "ssl_certificate_location" (printf "%s/client/%s" (include "earshot.kafkaDir" .) $k.tls.clientCertSecret.certKey) -}}
{{- $_ := set $kafka "ssl_key_location" (printf "%s/client/%s" (include "earshot.kafkaDir" .) $k.tls.clientCertSecret.keyKey) -}}
{{- end -}}
{{- $topics := dict -}}
{{- range $key, $t := $k.topics -}}
{{- $_ := set $topics $key $t.name -}}
{{- end -}}
{{- $_ := set $topics "router_state" $k.changelogs.router.name -}}
{{- $_ := set $topics "sla_state" $k.changelogs.sla.name -}}
{{- $_ := set $kafka "topics" $topics -}}
{{- with $k.properties -}}
{{- $_ := set $kafka "properties" . -}}
{{- end -}}
{{- $c := dict "kafka" $kafka -}}
{{- with $v.gateway.telegramBotId -}}
{{- $_ := set $c "telegram" (dict "bot_id" (toString .)) -}}
{{- end -}}
{{- if $v.gateway.genericSources -}}
{{- $sources := dict -}}
{{- range $v.gateway.genericSources -}}
{{- $_ := set $sources .name dict -}}
{{- end -}}
{{- $_ := set $c "generic" (dict "sources" $sources) -}}
{{- end -}}
{{- /* Static membership (the pod's name, EARSHOT_*_INSTANCE_ID) with a session that outlasts a
       restart: a rolling update or a config change moves no partition. */ -}}
{{- $router := dict "session_timeout_ms" 60000 "standby_replicas" (int $v.router.standbyReplicas) -}}
{{- if $v.router.rules -}}
{{- $_ := set $router "rules_file" (printf "%s/rules.yaml" (include "earshot.configDir" .)) -}}
{{- end -}}
{{- /* Every ready router replica, through the headless Service: any answers the Threads API. */ -}}
{{- $routerCtx := dict "root" . "component" "router" "values" $v.router -}}
{{- $routerHost := printf "%s.%s.svc" (include "earshot.componentName" $routerCtx) .Release.Namespace -}}
{{- $_ := set $router "peers" (printf "%s:%d" $routerHost (int $v.ports.grpc)) -}}
{{- if $v.grpcTls.enabled -}}
{{- $_ := set $router "peers_tls_name" $routerHost -}}
{{- $_ := set $router "peers_ca_file" (printf "%s/ca.crt" (include "earshot.grpcTlsDir" .)) -}}
{{- end -}}
{{- $_ := set $c "router" $router -}}
{{- $sla := dict "session_timeout_ms" 60000 "standby_replicas" (int $v.sla.standbyReplicas) -}}
{{- if $v.sla.policies -}}
{{- $_ := set $sla "policies_file" (printf "%s/sla.yaml" (include "earshot.configDir" .)) -}}
{{- end -}}
{{- $_ := set $c "sla" $sla -}}
{{- if $v.alertmanager.url -}}
{{- $_ := set $c "alertmanager" (dict "url" $v.alertmanager.url "generator_url" $v.alertmanager.generatorUrl) -}}
{{- end -}}
{{- if $v.stream.teams -}}
{{- $_ := set $c "stream" (dict "tokens_file" (printf "%s/stream-teams.yaml" (include "earshot.configDir" .))) -}}
{{- end -}}
{{- if $v.grpcTls.enabled -}}
{{- $dir := include "earshot.grpcTlsDir" . -}}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $dir) "key_file" (printf "%s/tls.key" $dir) -}}
{{- if $v.grpcTls.clientAuth -}}
{{- $_ := set $tls "client_ca_file" (printf "%s/ca.crt" $dir) -}}
{{- end -}}
{{- $_ := set $c "grpc" (dict "tls" $tls) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $c (deepCopy $v.config)) -}}
{{- end -}}

{{/* The stream's teams file (stream.tokens_file): tokens are files of mounted Secrets. */}}
{{- define "earshot.streamTeamsFile" -}}
{{- $teams := list -}}
{{- range .Values.stream.teams -}}
{{- $teams = append $teams (dict "name" .name "queues" .queues "token_file" (printf "%s/%s" (include "earshot.streamTokensDir" $) .name)) -}}
{{- end -}}
{{- toYaml (dict "teams" $teams) -}}
{{- end -}}

{{/*
The pod template of one component; call with
(dict "root" $ "component" "gateway" "values" .Values.gateway "volumes" list-of-extra-volumes).
*/}}
{{- define "earshot.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $c := .values -}}
{{- $component := .component -}}
metadata:
  labels:
    {{- include "earshot.componentLabels" . | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- /* Only the config file rolls the pods: the rules, SLA policies and stream teams in the
           same ConfigMap are reloaded by the running processes when Kubernetes updates the
           mounted files (reload.watch_interval), so editing them moves no partition. */}}
    checksum/config: {{ include "earshot.configFile" $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "earshot.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ int $c.terminationGracePeriodSeconds }}
  containers:
    - name: earshot
      image: {{ include "earshot.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - --target={{ $component }}
        - --config={{ include "earshot.configDir" $root }}/earshot.yaml
        - --data-dir={{ include "earshot.dataDir" $root }}
        - --log-level={{ $v.logLevel }}
      env:
        {{- if eq $component "gateway" }}
        - name: EARSHOT_HTTP_ADDR
          value: "0.0.0.0:{{ int $v.ports.http }}"
        {{- end }}
        - name: EARSHOT_GRPC_ADDR
          value: "0.0.0.0:{{ int $v.ports.grpc }}"
        - name: EARSHOT_ADMIN_ADDR
          value: "0.0.0.0:{{ int $v.ports.admin }}"
        {{- if or (eq $component "router") (eq $component "sla") }}
        # Static group membership: the pod's name is unique and survives a restart.
        - name: EARSHOT_{{ upper $component }}_INSTANCE_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- if include "earshot.kafkaUsesSasl" $root }}
        - name: EARSHOT_KAFKA_SASL_PASSWORD_FILE
          value: {{ include "earshot.kafkaDir" $root }}/sasl/{{ $v.kafka.sasl.passwordSecret.key }}
        {{- end }}
        {{- if eq $component "gateway" }}
        {{- $keys := $c.secrets.keys }}
        {{- $dir := include "earshot.secretsDir" $root }}
        {{- $env := dict "xConsumerSecret" "EARSHOT_X_CONSUMER_SECRET_FILE" "xClientSecret" "EARSHOT_X_CLIENT_SECRET_FILE" "metaAppSecret" "EARSHOT_META_APP_SECRET_FILE" "metaVerifyToken" "EARSHOT_META_VERIFY_TOKEN_FILE" "telegramSecretToken" "EARSHOT_TELEGRAM_SECRET_TOKEN_FILE" }}
        {{- range $name := keys $env | sortAlpha }}
        {{- with get $keys $name }}
        - name: {{ get $env $name }}
          value: {{ $dir }}/{{ . }}
        {{- end }}
        {{- end }}
        {{- range $c.genericSources }}
        - name: EARSHOT_GENERIC_SOURCES_{{ .name | upper | replace "-" "_" }}_SECRET_FILE
          value: {{ $dir }}/{{ .secretKey }}
        {{- end }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        {{- if eq $component "gateway" }}
        - name: http
          containerPort: {{ int $v.ports.http }}
          protocol: TCP
        {{- end }}
        - name: grpc
          containerPort: {{ int $v.ports.grpc }}
          protocol: TCP
        - name: admin
          containerPort: {{ int $v.ports.admin }}
          protocol: TCP
      startupProbe:
        {{- if $v.grpcTls.enabled }}
        httpGet:
          path: /readyz
          port: admin
        {{- else }}
        grpc:
          port: {{ int $v.ports.grpc }}
        {{- end }}
        {{- toYaml $v.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml $v.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        {{- toYaml $v.probes.readiness | nindent 8 }}
      {{- with $c.preStopSleepSeconds }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", "{{ int . }}"]
      {{- end }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- toYaml $v.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "earshot.configDir" $root }}
          readOnly: true
        - name: data
          mountPath: {{ include "earshot.dataDir" $root }}
        - name: tmp
          mountPath: /tmp
        {{- if include "earshot.kafkaUsesSasl" $root }}
        - name: kafka-sasl
          mountPath: {{ include "earshot.kafkaDir" $root }}/sasl
          readOnly: true
        {{- end }}
        {{- if $v.kafka.tls.caSecret.name }}
        - name: kafka-ca
          mountPath: {{ include "earshot.kafkaDir" $root }}/ca
          readOnly: true
        {{- end }}
        {{- if $v.kafka.tls.clientCertSecret.name }}
        - name: kafka-client
          mountPath: {{ include "earshot.kafkaDir" $root }}/client
          readOnly: true
        {{- end }}
        {{- if $v.grpcTls.enabled }}
        - name: grpc-tls
          mountPath: {{ include "earshot.grpcTlsDir" $root }}
          readOnly: true
        {{- end }}
        {{- if and (eq $component "gateway") $c.secrets.existingSecret }}
        - name: platform-secrets
          mountPath: {{ include "earshot.secretsDir" $root }}
          readOnly: true
        {{- end }}
        {{- if and (eq $component "stream") $c.teams }}
        - name: stream-tokens
          mountPath: {{ include "earshot.streamTokensDir" $root }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "earshot.fullname" $root }}-config
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if or (eq $component "gateway") (eq $component "stream") }}
    # Stateless: the data folder only holds what the process creates at start.
    - name: data
      emptyDir:
        sizeLimit: 64Mi
    {{- end }}
    {{- if include "earshot.kafkaUsesSasl" $root }}
    - name: kafka-sasl
      secret:
        secretName: {{ required "kafka.sasl.passwordSecret.name is required with SASL" $v.kafka.sasl.passwordSecret.name }}
        items:
          - key: {{ $v.kafka.sasl.passwordSecret.key }}
            path: {{ $v.kafka.sasl.passwordSecret.key }}
    {{- end }}
    {{- with $v.kafka.tls.caSecret }}
    {{- if .name }}
    - name: kafka-ca
      secret:
        secretName: {{ .name }}
        items:
          - key: {{ .key }}
            path: {{ .key }}
    {{- end }}
    {{- end }}
    {{- with $v.kafka.tls.clientCertSecret }}
    {{- if .name }}
    - name: kafka-client
      secret:
        secretName: {{ .name }}
        items:
          - key: {{ .certKey }}
            path: {{ .certKey }}
          - key: {{ .keyKey }}
            path: {{ .keyKey }}
    {{- end }}
    {{- end }}
    {{- if $v.grpcTls.enabled }}
    - name: grpc-tls
      secret:
        secretName: {{ required "grpcTls.secretName is required when grpcTls.enabled" $v.grpcTls.secretName }}
    {{- end }}
    {{- if and (eq $component "gateway") $c.secrets.existingSecret }}
    - name: platform-secrets
      secret:
        secretName: {{ $c.secrets.existingSecret }}
        items:
          {{- range $name, $key := $c.secrets.keys }}
          {{- if $key }}
          - key: {{ $key }}
            path: {{ $key }}
          {{- end }}
          {{- end }}
          {{- range $c.genericSources }}
          - key: {{ .secretKey }}
            path: {{ .secretKey }}
          {{- end }}
    {{- end }}
    {{- if and (eq $component "stream") $c.teams }}
    - name: stream-tokens
      projected:
        sources:
          {{- range $c.teams }}
          - secret:
              name: {{ .tokenSecret.name }}
              items:
                - key: {{ .tokenSecret.key }}
                  path: {{ .name }}
          {{- end }}
    {{- end }}
  {{- with $c.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Checks across values that the schema cannot express; fails the render with a reason. */}}
{{- define "earshot.validate" -}}
{{- $g := .Values.gateway -}}
{{- $usesSecret := .Values.gateway.genericSources -}}
{{- range $name, $key := $g.secrets.keys -}}
{{- if $key -}}{{- $usesSecret = true -}}{{- end -}}
{{- end -}}
{{- if and $usesSecret (not $g.secrets.existingSecret) -}}
{{- fail "gateway.secrets.keys and gateway.genericSources name keys of a Secret: set gateway.secrets.existingSecret" -}}
{{- end -}}
{{- if and .Values.kafka.strimzi.enabled (not .Values.kafka.strimzi.clusterName) -}}
{{- fail "kafka.strimzi.clusterName is required when kafka.strimzi.enabled" -}}
{{- end -}}
{{- $p := .Values.ports -}}
{{- if or (eq (int $p.http) (int $p.grpc)) (eq (int $p.http) (int $p.admin)) (eq (int $p.grpc) (int $p.admin)) -}}
{{- fail "ports.http, ports.grpc and ports.admin must differ" -}}
{{- end -}}
{{- if and .Values.grpcTls.enabled (not .Values.grpcTls.secretName) -}}
{{- fail "grpcTls.secretName is required when grpcTls.enabled" -}}
{{- end -}}
{{- end -}}
