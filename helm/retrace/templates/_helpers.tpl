{{/* Names, labels and values shared by the templates. */}}

{{- define "retrace.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name when it already holds the chart name. */}}
{{- define "retrace.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "retrace.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "retrace.labels" -}}
helm.sh/chart: {{ include "retrace.chart" . }}
{{ include "retrace.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "retrace.selectorLabels" -}}
app.kubernetes.io/name: {{ include "retrace.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: (dict "ctx" $ "component" "agent"). */}}
{{- define "retrace.componentLabels" -}}
{{ include "retrace.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "retrace.componentSelector" -}}
{{ include "retrace.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* repository:tag, the tag defaulting to the chart's appVersion: (dict "ctx" $ "image" .Values.agent.image). */}}
{{- define "retrace.image" -}}
{{- printf "%s:%s" .image.repository (.image.tag | default .ctx.Chart.AppVersion) -}}
{{- end -}}

{{/* The component whose Pod runs the aggregator: the operator's, unless it runs apart. */}}
{{- define "retrace.aggregatorComponent" -}}
{{- if .Values.aggregator.separate }}aggregator{{ else }}operator{{ end -}}
{{- end -}}

{{/* The Lease operator replicas elect their leader with. */}}
{{- define "retrace.leaseName" -}}
{{- printf "%s-operator" (include "retrace.fullname" .) -}}
{{- end -}}

{{- define "retrace.aggregatorService" -}}
{{- printf "%s-aggregator" (include "retrace.fullname" .) -}}
{{- end -}}

{{/* host:port agents and the operator dial; the server certificate names it. */}}
{{- define "retrace.aggregatorAddress" -}}
{{- printf "%s.%s.svc:%d" (include "retrace.aggregatorService" .) .Release.Namespace (.Values.service.port | int) -}}
{{- end -}}

{{/* DNS names of the server certificate, one per line. */}}
{{- define "retrace.serverNames" -}}
{{- $svc := include "retrace.aggregatorService" . -}}
{{- $ns := .Release.Namespace -}}
{{ $svc }}
{{ printf "%s.%s" $svc $ns }}
{{ printf "%s.%s.svc" $svc $ns }}
{{ printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain }}
{{- range .Values.tls.extraServerNames }}
{{ . }}
{{- end }}
{{- end -}}

{{/* The server certificate's names in one line: kept on its Secret, so that an upgrade that
changes them reissues it, and hashed on the server's Pods, so that they load it. */}}
{{- define "retrace.serverNamesKey" -}}
{{- include "retrace.serverNames" . | trim | splitList "\n" | join "," -}}
{{- end -}}

{{- define "retrace.serverSecret" -}}
{{- if eq .Values.tls.source "existing" -}}
{{- required "tls.existing.serverSecret is required with tls.source=existing (a Secret with ca.crt, tls.crt, tls.key)" .Values.tls.existing.serverSecret -}}
{{- else -}}
{{- printf "%s-server-tls" (include "retrace.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "retrace.agentSecret" -}}
{{- if eq .Values.tls.source "existing" -}}
{{- required "tls.existing.agentSecret is required with tls.source=existing (a Secret with ca.crt, tls.crt, tls.key)" .Values.tls.existing.agentSecret -}}
{{- else -}}
{{- printf "%s-agent-tls" (include "retrace.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Whether agents have certificates of their own node (the aggregator's --agent-certs). */}}
{{- define "retrace.agentCerts" -}}
{{- if and (eq .Values.tls.source "helm") (eq .Values.agent.certificates "perNode") -}}
bound
{{- else -}}
shared
{{- end -}}
{{- end -}}

{{/* ServiceAccount names: (dict "ctx" $ "who" "agent"). */}}
{{- define "retrace.serviceAccount" -}}
{{- $sa := index .ctx.Values.serviceAccount .who -}}
{{- if $sa.create -}}
{{- $sa.name | default (printf "%s-%s" (include "retrace.fullname" .ctx) .who) -}}
{{- else -}}
{{- $sa.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The aggregator's store volume: a claim, or an emptyDir. */}}
{{- define "retrace.storeVolume" -}}
- name: store
{{- if .Values.store.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ .Values.store.persistence.existingClaim | default (printf "%s-store" (include "retrace.fullname" .)) }}
{{- else }}
  emptyDir:
    {{- with .Values.store.emptyDir.sizeLimit }}
    sizeLimit: {{ . }}
    {{- else }} {}
    {{- end }}
{{- end }}
{{- end -}}

{{/* Security context of the operator and aggregator containers: nothing beyond a plain process. */}}
{{- define "retrace.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "retrace.restrictedPod" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Combinations the schema cannot refuse, refused with what to change. */}}
{{- define "retrace.validate" -}}
{{- if and (not .Values.aggregator.separate) (gt (.Values.operator.replicas | int) 1) -}}
{{- fail "operator.replicas > 1 needs aggregator.separate=true: the aggregator inside the operator must be the only one (every agent streams to it)" -}}
{{- end -}}
{{- if and (gt (.Values.operator.replicas | int) 1) (not .Values.operator.leaderElection) -}}
{{- fail "operator.replicas > 1 needs operator.leaderElection=true, or the replicas would all reconcile" -}}
{{- end -}}
{{- end -}}

{{/*
The CA certificate (PEM) of a server Secret the chart does not make (cert-manager, existing
Secrets), once it exists: published from the next install or upgrade after it was issued. Empty
when not known yet. (tls.source=helm publishes the CA it makes in tls-helm.yaml.)
*/}}
{{- define "retrace.externalCaCert" -}}
{{- $server := lookup "v1" "Secret" .Release.Namespace (include "retrace.serverSecret" .) -}}
{{- if hasKey (($server | default dict).data | default dict) "ca.crt" -}}
{{- index $server.data "ca.crt" | b64dec | trim -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap that publishes the CA certificate: (dict "ctx" $ "ca" PEM). */}}
{{- define "retrace.caConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "retrace.fullname" .ctx }}-ca
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "retrace.componentLabels" (dict "ctx" .ctx "component" "readers") | nindent 4 }}
data:
  ca.crt: |
    {{- .ca | trim | nindent 4 }}
{{- end -}}
