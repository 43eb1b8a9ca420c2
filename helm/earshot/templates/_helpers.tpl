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
{{- define "earshot.principalTokensDir" -}}/etc/earshot/principals{{- end -}}

{{/* The principal the router replicas present to each other (threads:forward). */}}
{{- define "earshot.peersPrincipal" -}}earshot-router-peers{{- end -}}

{{/* The Secret holding the router peers' token: the user's, or the one the chart keeps. */}}
{{- define "earshot.peersSecretName" -}}
{{- default (printf "%s-router-peers" (include "earshot.fullname" .)) .Values.auth.routerPeers.existingSecret -}}
{{- end -}}

{{/* The Secret holding the gRPC certificate: the user's, or the one cert-manager writes. */}}
{{- define "earshot.grpcTlsSecretName" -}}
{{- default (printf "%s-grpc-tls" (include "earshot.fullname" .)) .Values.grpcTls.secretName -}}
{{- end -}}

{{- define "earshot.certManagerEnabled" -}}
{{- if and .Values.grpcTls.enabled .Values.grpcTls.certManager.issuerRef.name }}true{{ end -}}
{{- end -}}

{{/*
Every principal, the chart's router peers first: a YAML list of {name, tokens: [{secret, key,
path}], certificate, scopes}, where path is the token's file under earshot.principalTokensDir.
Both the principals file and the pods' projected token volume are made from it.
*/}}
{{- define "earshot.principalList" -}}
{{- $out := list -}}
{{- if .Values.router.enabled -}}
{{- $peer := include "earshot.peersPrincipal" . -}}
{{- $tok := dict "secret" (include "earshot.peersSecretName" .) "key" .Values.auth.routerPeers.key "path" (printf "%s/token" $peer) -}}
{{- $out = append $out (dict "name" $peer "tokens" (list $tok) "scopes" (dict "threads:forward" (list "*"))) -}}
{{- end -}}
{{- range .Values.auth.principals -}}
{{- $p := . -}}
{{- $tokens := list -}}
{{- with .tokenSecret -}}
{{- $tokens = append $tokens (dict "secret" .name "key" .key "path" (printf "%s/token" $p.name)) -}}
{{- end -}}
{{- range $i, $t := (default list .extraTokenSecrets) -}}
{{- $tokens = append $tokens (dict "secret" $t.name "key" $t.key "path" (printf "%s/token-%d" $p.name (add $i 1))) -}}
{{- end -}}
{{- $e := dict "name" .name "tokens" $tokens "scopes" .scopes -}}
{{- with .certificate -}}
{{- $_ := set $e "certificate" . -}}
{{- end -}}
{{- $out = append $out $e -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The principals file (auth.principals_file): token files of the mounted Secrets. */}}
{{- define "earshot.principalsFile" -}}
{{- $dir := include "earshot.principalTokensDir" . -}}
{{- $principals := list -}}
{{- range (include "earshot.principalList" . | fromYamlArray) -}}
{{- $files := list -}}
{{- range .tokens -}}
{{- $files = append $files (dict "file" (printf "%s/%s" $dir .path)) -}}
{{- end -}}
{{- $e := dict "name" .name "scopes" .scopes -}}
{{- if $files -}}
{{- $_ := set $e "tokens" $files -}}
{{- end -}}
{{- with .certificate -}}
{{- $_ := set $e "certificate" . -}}
{{- end -}}
{{- $principals = append $principals $e -}}
{{- end -}}
{{- toYaml (dict "principals" $principals) -}}
{{- end -}}

{{/* Whether any principal is identified by its client certificate. */}}
{{- define "earshot.certificatePrincipals" -}}
{{- range .Values.auth.principals -}}
{{- if .certificate }}true{{ end -}}
{{- end -}}
{{- end -}}

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
{{- $_ := set $router "peers_token_file" (printf "%s/%s/token" (include "earshot.principalTokensDir" .) (include "earshot.peersPrincipal" .)) -}}
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
{{- $_ := set $c "auth" (dict "principals_file" (printf "%s/principals.yaml" (include "earshot.configDir" .))) -}}
{{- $grpc := dict "reflection" $v.grpc.reflection -}}
{{- if $v.grpcTls.enabled -}}
{{- $dir := include "earshot.grpcTlsDir" . -}}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $dir) "key_file" (printf "%s/tls.key" $dir) -}}
{{- /* The CA verifies client certificates when given; only clientAuth requires one. */ -}}
{{- if or $v.grpcTls.clientAuth (include "earshot.certificatePrincipals" .) -}}
{{- $_ := set $tls "client_ca_file" (printf "%s/ca.crt" $dir) -}}
{{- end -}}
{{- $_ := set $tls "require_client_certificate" $v.grpcTls.clientAuth -}}
{{- $_ := set $grpc "tls" $tls -}}
{{- end -}}
{{- $_ := set $c "grpc" $grpc -}}
{{- toYaml (mergeOverwrite $c (deepCopy $v.config)) -}}
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
    {{- /* Only the config file and the principals roll the pods: the rules and SLA policies in
           the same ConfigMap are reloaded by the running processes when Kubernetes updates the
           mounted files (reload.watch_interval), so editing them moves no partition. A new
           principal needs a new token mount anyway. */}}
    checksum/config: {{ print (include "earshot.configFile" $root) (include "earshot.principalsFile" $root) | sha256sum }}
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
        - name: principal-tokens
          mountPath: {{ include "earshot.principalTokensDir" $root }}
          readOnly: true
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
        secretName: {{ include "earshot.grpcTlsSecretName" $root }}
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
    {{- /* Every token of every principal (auth.principals_file names them), each Secret
           once; not subPath mounts, so a Secret's update reaches the running pods. */}}
    {{- $bySecret := dict }}
    {{- $order := list }}
    {{- range (include "earshot.principalList" $root | fromYamlArray) }}
    {{- range .tokens }}
    {{- if not (hasKey $bySecret .secret) }}
    {{- $order = append $order .secret }}
    {{- $_ := set $bySecret .secret list }}
    {{- end }}
    {{- $_ := set $bySecret .secret (append (get $bySecret .secret) (dict "key" .key "path" .path)) }}
    {{- end }}
    {{- end }}
    - name: principal-tokens
      projected:
        {{- if $order }}
        sources:
          {{- range $order }}
          - secret:
              name: {{ . }}
              items:
                {{- toYaml (get $bySecret .) | nindent 16 }}
          {{- end }}
        {{- else }}
        sources: []
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
{{- $tls := .Values.grpcTls -}}
{{- if $tls.enabled -}}
{{- if and (not $tls.secretName) (not $tls.certManager.issuerRef.name) -}}
{{- fail "grpcTls.enabled (the default) needs a certificate: set grpcTls.secretName to an existing kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt), or grpcTls.certManager.issuerRef to a cert-manager CA issuer (e.g. {name: my-ca, kind: ClusterIssuer}); for development only, grpcTls.enabled=false with grpcTls.allowPlaintext=true" -}}
{{- end -}}
{{- if and $tls.certManager.issuerRef.name (not (.Capabilities.APIVersions.Has "cert-manager.io/v1")) -}}
{{- fail "grpcTls.certManager.issuerRef needs cert-manager (the API cert-manager.io/v1 is not served; with helm template pass --api-versions cert-manager.io/v1), or give the certificate as grpcTls.secretName" -}}
{{- end -}}
{{- else -}}
{{- if not $tls.allowPlaintext -}}
{{- fail "grpcTls.enabled=false sends bearer tokens in the clear: set grpcTls.allowPlaintext=true as well to acknowledge it (development only), or keep TLS on with grpcTls.secretName or grpcTls.certManager.issuerRef" -}}
{{- end -}}
{{- if $tls.clientAuth -}}
{{- fail "grpcTls.clientAuth needs grpcTls.enabled" -}}
{{- end -}}
{{- if include "earshot.certificatePrincipals" . -}}
{{- fail "auth.principals with a certificate identity need grpcTls.enabled (client certificates are TLS)" -}}
{{- end -}}
{{- end -}}
{{- if not .Values.auth.principals -}}
{{- fail "auth.principals is empty: earshot refuses to start a gRPC listener without principals; list at least one (name, tokenSecret and/or certificate, scopes)" -}}
{{- end -}}
{{- $names := dict -}}
{{- range .Values.auth.principals -}}
{{- if hasKey $names .name -}}
{{- fail (printf "auth.principals: the name %s is given twice" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- if and (not .tokenSecret) .extraTokenSecrets -}}
{{- fail (printf "auth.principals %s: extraTokenSecrets without tokenSecret" .name) -}}
{{- end -}}
{{- end -}}
{{- if .Values.stream.teams -}}
{{- fail "stream.teams is replaced by auth.principals: give each team {name, tokenSecret: {name, key}, scopes: {stream:read: [its queues]}} and set stream.teams: []" -}}
{{- end -}}
{{- $np := .Values.networkPolicy -}}
{{- if and (or (not $np.enabled) (not $np.egress.enabled)) (not $np.allowUnrestricted) -}}
{{- fail "networkPolicy.enabled=false or networkPolicy.egress.enabled=false opens the pods to (or from) the whole network: set networkPolicy.allowUnrestricted=true as well to acknowledge it" -}}
{{- end -}}
{{- if $np.enabled -}}
{{- if not $np.monitoringNamespaceSelector -}}
{{- fail "networkPolicy.monitoringNamespaceSelector is empty: give the labels of your Prometheus' namespace (e.g. {kubernetes.io/metadata.name: monitoring}); an empty selector would open the admin port to every namespace" -}}
{{- end -}}
{{- if and .Values.gateway.enabled (not $np.ingressNamespaceSelector) -}}
{{- fail "networkPolicy.ingressNamespaceSelector is empty: give the labels of your ingress controller's namespace (e.g. {kubernetes.io/metadata.name: ingress-nginx})" -}}
{{- end -}}
{{- if $np.egress.enabled -}}
{{- $_ := include "earshot.kafkaPeers" . -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The NetworkPolicyPeers of the Kafka brokers (networkPolicy.kafka, or the Strimzi cluster's pods);
fails when they cannot be known.
*/}}
{{- define "earshot.kafkaPeers" -}}
{{- $k := .Values.networkPolicy.kafka -}}
{{- $peers := list -}}
{{- if $k.namespaceSelector -}}
{{- $peer := dict "namespaceSelector" (dict "matchLabels" $k.namespaceSelector) -}}
{{- with $k.podSelector -}}
{{- $_ := set $peer "podSelector" (dict "matchLabels" .) -}}
{{- end -}}
{{- $peers = append $peers $peer -}}
{{- end -}}
{{- range $k.ipBlocks -}}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) -}}
{{- end -}}
{{- if and (not $peers) .Values.kafka.strimzi.enabled -}}
{{- $ns := default .Release.Namespace .Values.kafka.strimzi.namespace -}}
{{- $peers = append $peers (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" $ns)) "podSelector" (dict "matchLabels" (dict "strimzi.io/cluster" .Values.kafka.strimzi.clusterName))) -}}
{{- end -}}
{{- if not $peers -}}
{{- fail "networkPolicy.kafka: say where the Kafka brokers are, for the egress policy: namespaceSelector (e.g. {kubernetes.io/metadata.name: kafka}, optionally podSelector) or ipBlocks (a managed Kafka); with kafka.strimzi.enabled the Strimzi cluster's pods are used" -}}
{{- end -}}
{{- toYaml $peers -}}
{{- end -}}

{{/* The distinct ports of kafka.bootstrap, a YAML list of NetworkPolicyPorts. */}}
{{- define "earshot.kafkaPorts" -}}
{{- $seen := dict -}}
{{- $ports := list -}}
{{- range splitList "," .Values.kafka.bootstrap -}}
{{- $port := regexFind "[0-9]+$" (trim .) -}}
{{- if and $port (not (hasKey $seen $port)) -}}
{{- $_ := set $seen $port true -}}
{{- $ports = append $ports (dict "port" (atoi $port) "protocol" "TCP") -}}
{{- end -}}
{{- end -}}
{{- toYaml $ports -}}
{{- end -}}

{{/* The port of alertmanager.url (default 80, or 443 for https). */}}
{{- define "earshot.alertmanagerPort" -}}
{{- $u := urlParse .Values.alertmanager.url -}}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" -}}
{{- if $port -}}{{ $port }}{{- else if eq $u.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}
