{{/* Names, labels, and the jobs with their defaults applied and their invariants checked. */}}

{{- define "minio-s3-mirror.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "minio-s3-mirror.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "minio-s3-mirror.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "minio-s3-mirror.selectorLabels" -}}
app.kubernetes.io/name: {{ include "minio-s3-mirror.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "minio-s3-mirror.labels" -}}
helm.sh/chart: {{ include "minio-s3-mirror.chart" . }}
{{ include "minio-s3-mirror.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "minio-s3-mirror.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "minio-s3-mirror.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the credentials are read from: existingSecret, else the chart's own. */}}
{{- define "minio-s3-mirror.secretName" -}}
{{- default (include "minio-s3-mirror.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "minio-s3-mirror.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The environment variable prefix of an alias: r2 -> R2 (R2_URL, R2_ACCESS_KEY, ...). */}}
{{- define "minio-s3-mirror.envPrefix" -}}
{{- upper . }}
{{- end }}

{{/*
Does the alias read keys from a Secret? Every alias does, except `aws` with credentialChain.
Prints "true" or nothing.
*/}}
{{- define "minio-s3-mirror.usesKeys" -}}
{{- if not (and (eq .alias "aws") .endpoint.credentialChain) }}true{{ end }}
{{- end }}

{{/*
The aliases of a pair's two sides, lowercased as the worker does; fails on a malformed pair.
Prints them separated by a space.
*/}}
{{- define "minio-s3-mirror.pairAliases" -}}
{{- if regexMatch "[;\r\n]" (trim .pair) }}
{{- fail (printf "%s: pair %q has a ';' or a line break, which separate pairs in BUCKET_PAIRS: give each pair its own entry, and a folder with a ';' in its name in prefix" .where .pair) }}
{{- end }}
{{- $sides := splitList ":" (trim .pair) }}
{{- if ne (len $sides) 2 }}
{{- fail (printf "%s: pair %q must be source:target, e.g. minio/photos:aws/photos-backup (exactly one ':')" .where .pair) }}
{{- end }}
{{- range $sides }}
{{- $parts := splitList "/" (trim .) }}
{{- if or (lt (len $parts) 2) (not (regexMatch "^[A-Za-z][A-Za-z0-9_]*$" (index $parts 0))) (not (regexMatch "^[A-Za-z0-9._-]{1,255}$" (index $parts 1))) (regexMatch "^[.]+$" (index $parts 1)) }}
{{- fail (printf "%s: pair %q: each side must be alias/bucket or alias/bucket/folder, with an alias of letters, digits and '_' (it names environment variables) and a bucket of letters, digits, '.', '-' and '_' (not dots alone)" $.where $.pair) }}
{{- end }}
{{- printf "%s " (lower (index $parts 0)) }}
{{- end }}
{{- end }}

{{/*
The jobs: each entry of .Values.jobs over .Values.jobDefaults (a key set in the entry replaces
the default whole), with "aliases" (the endpoints its pairs use) and "fullname" (the CronJob's
name) added, as JSON {"jobs": [...]}. Every invariant that values.schema.json cannot express
is checked here, so each template that includes this fails with the same readable message.
*/}}
{{- define "minio-s3-mirror.jobs" -}}
{{- $root := . }}
{{- $jobs := list }}
{{- $seen := dict }}
{{- $services := dict }}
{{- $chartEnv := list "SERVICE" "BUCKET_PAIR" "BUCKET_PAIRS" "MIRROR_PREFIX" "MIRROR_TIMEZONE" "MIRROR_EXCLUDE" "MIRROR_DRY_RUN" "MIRROR_OVERWRITE" "MIRROR_SKIP_ERRORS" "MIRROR_MAX_WORKERS" "MIRROR_LARGE_TRANSFERS" "MIRROR_PART_SIZE" "MIRROR_BANDWIDTH_LIMIT" "MIRROR_DEBUG" "MIRROR_LOG_FORMAT" "SLACK_BOT_TOKEN" "SLACK_CHANNEL_ID" "SLACK_API_URL" "MIRROR_PUSHGATEWAY_URL" }}
{{- if not .Values.metrics.pushgatewayUrl }}
{{- /* a Pushgateway URL with credentials comes from the user's own Secret, through extraEnv */}}
{{- $chartEnv = without $chartEnv "MIRROR_PUSHGATEWAY_URL" }}
{{- end }}
{{- range $i, $entry := .Values.jobs }}
{{- $job := deepCopy $root.Values.jobDefaults }}
{{- range $key, $value := $entry }}
{{- $_ := set $job $key $value }}
{{- end }}
{{- $where := printf "jobs[%d] (%s)" $i $job.name }}
{{- /* `jobDefaults.<key>: null` removes the default (Helm's merge); a key without a null
meaning of its own must then come from the job, or it would render as "<nil>" or 0 */}}
{{- range $key := list "schedule" "timeZone" "dryRun" "overwrite" "skipErrors" "maxWorkers" "largeTransfers" "partSize" "debug" "suspend" "concurrencyPolicy" "successfulJobsHistoryLimit" "failedJobsHistoryLimit" "backoffLimit" "terminationGracePeriodSeconds" }}
{{- if or (not (hasKey $job $key)) (kindIs "invalid" (index $job $key)) }}
{{- fail (printf "%s: %s is not set: give the job its own %s, or leave jobDefaults.%s at its default (a null in the values removes the default)" $where $key $key $key) }}
{{- end }}
{{- end }}
{{- if hasKey $seen $job.name }}
{{- fail (printf "%s: the job name %q is used twice; each job needs its own name" $where $job.name) }}
{{- end }}
{{- $_ := set $seen $job.name true }}
{{- $fullname := printf "%s-%s" (include "minio-s3-mirror.fullname" $root) $job.name }}
{{- if gt (len $fullname) 52 }}
{{- fail (printf "%s: the CronJob name %q is %d characters; Kubernetes allows 52. Shorten the job name or set fullnameOverride" $where $fullname (len $fullname)) }}
{{- end }}
{{- if not $job.pairs }}
{{- fail (printf "%s has no bucket pairs: set jobs[%d].pairs, or jobDefaults.pairs to share pairs between jobs, e.g. [minio/photos:aws/photos-backup]" $where $i) }}
{{- end }}
{{- $aliases := list }}
{{- range $job.pairs }}
{{- range (include "minio-s3-mirror.pairAliases" (dict "pair" . "where" $where) | trim | splitList " ") }}
{{- $aliases = append $aliases . }}
{{- end }}
{{- end }}
{{- $aliases = $aliases | uniq | sortAlpha }}
{{- range $aliases }}
{{- $endpoint := get $root.Values.endpoints . }}
{{- $prefix := include "minio-s3-mirror.envPrefix" . }}
{{- if not $endpoint }}
{{- fail (printf "%s uses the alias %q, which has no entry in endpoints: add endpoints.%s.url (and its credentials)" $where . .) }}
{{- end }}
{{- if not (or $endpoint.url (and (eq . "aws") $endpoint.region)) }}
{{- fail (printf "%s uses the alias %q: set endpoints.%s.url (%s_URL)%s" $where . . $prefix (ternary ", or endpoints.aws.region for AWS S3" "" (eq . "aws"))) }}
{{- end }}
{{- if and $endpoint.credentialChain (ne . "aws") }}
{{- fail (printf "endpoints.%s.credentialChain: only the aws alias can use the AWS credential chain; give %q keys" . .) }}
{{- end }}
{{- if and (include "minio-s3-mirror.usesKeys" (dict "alias" . "endpoint" $endpoint)) (not $root.Values.existingSecret) (not (and $endpoint.accessKey $endpoint.secretKey)) }}
{{- fail (printf "%s uses the alias %q, which has no credentials: set endpoints.%s.accessKey and endpoints.%s.secretKey, or existingSecret (a Secret with the keys %s_ACCESS_KEY and %s_SECRET_KEY)%s" $where . . . $prefix $prefix (ternary ", or endpoints.aws.credentialChain: true for IAM roles for service accounts" "" (eq . "aws"))) }}
{{- end }}
{{- end }}
{{- range $job.extraEnv }}
{{- /* in upper case, as the worker compares them: mirror_dry_run is refused by it (exit 2 at
every run), minio_url would be ignored beside the chart's MINIO_URL */}}
{{- $upper := upper .name }}
{{- if or (has $upper $chartEnv) (regexMatch (printf "^(%s)_(URL|PROVIDER|REGION|CA_FILE|ETAG_IS_MD5|PRICING|STORAGE_CLASS|ACCESS_KEY|SECRET_KEY)$" (upper (join "|" $aliases))) $upper) }}
{{- if eq $upper "MIRROR_LOG_FORMAT" }}
{{- fail (printf "%s: extraEnv sets MIRROR_LOG_FORMAT, which the chart fixes to json: the logs of a CronJob's pods are read by machines (kubectl logs, a log pipeline)" $where) }}
{{- end }}
{{- fail (printf "%s: extraEnv sets %s, which the chart sets from its values%s; use the value that maps to it (see values.yaml)" $where .name (ternary "" (printf " as %s" $upper) (eq .name $upper))) }}
{{- end }}
{{- if and (ne .name $upper) (regexMatch "^(MIRROR|SLACK|BUCKET)_" $upper) }}
{{- fail (printf "%s: extraEnv sets %s, which the worker refuses (exit 2 at every run): its variables are upper case, %s" $where .name $upper) }}
{{- end }}
{{- end }}
{{- /* one entry per name: Kubernetes keeps the last of two, and a later upgrade that drops
one of them removes both (strategic merge patch keys env by name) */}}
{{- $envNames := dict }}
{{- range $job.extraEnv }}
{{- if hasKey $envNames .name }}
{{- fail (printf "%s: extraEnv sets %s twice; give each variable once (the container would keep only the last, and a later helm upgrade that removes one entry removes both)" $where .name) }}
{{- end }}
{{- $_ := set $envNames .name true }}
{{- end }}
{{- with $job.partSize }}
{{- /* parsed as the worker parses MIRROR_PART_SIZE: K and KiB are 1024 bytes, KB 1000; in
floats, which cannot overflow and are exact near the limits; an unknown unit counts as 0 */}}
{{- $units := dict "" 1 "b" 1 "k" 1024 "kb" 1000 "kib" 1024 "m" 1048576 "mb" 1000000 "mib" 1048576 "g" 1073741824 "gb" 1000000000 "gib" 1073741824 }}
{{- $number := regexFind `^\s*[0-9]+` (toString .) | trim }}
{{- $unit := regexReplaceAll `^\s*[0-9]+\s*` (toString .) "" | trim | lower }}
{{- $bytes := mulf (float64 $number) (default 0 (get $units $unit)) }}
{{- if or (lt $bytes (mulf 5 1048576)) (gt $bytes (mulf 5 1073741824)) }}
{{- fail (printf "%s: partSize %q is outside the part sizes the worker accepts: 5MiB to 5GiB (MIRROR_PART_SIZE, S3's limits; K and KiB are 1024 bytes, KB 1000), e.g. 16MiB" $where (toString .)) }}
{{- end }}
{{- end }}
{{- with $job.bandwidthLimit }}
{{- /* as the worker parses MIRROR_BANDWIDTH_LIMIT: a size per second, 0 for no cap, else at
least 64KiB/s (the schema has checked the shape) */}}
{{- $units := dict "" 1 "b" 1 "k" 1024 "kb" 1000 "kib" 1024 "m" 1048576 "mb" 1000000 "mib" 1048576 "g" 1073741824 "gb" 1000000000 "gib" 1073741824 }}
{{- $rate := regexReplaceAll `\s*/\s*[Ss]\s*$` (toString .) "" }}
{{- $number := regexFind `^\s*[0-9]+` $rate | trim }}
{{- $unit := regexReplaceAll `^\s*[0-9]+\s*` $rate "" | trim | lower }}
{{- $bytes := mulf (float64 $number) (default 0 (get $units $unit)) }}
{{- if and (gt $bytes 0.0) (lt $bytes 65536.0) }}
{{- fail (printf "%s: bandwidthLimit %q is below what the worker accepts: at least 64KiB/s (bytes per second, not bits), or 0 for no cap" $where (toString .)) }}
{{- end }}
{{- end }}
{{- range (ternary (list $job.prefix) $job.prefix (kindIs "string" $job.prefix)) }}
{{- /* MIRROR_PREFIX's date fields, {today:%Y/%m/%d} or {now-2d}; {{ and }} are literal braces */}}
{{- if regexMatch `^([^{]|\{\{|\{[^{}]*\})*,` (toString .) }}
{{- fail (printf "%s: prefix %q has a comma outside a date field: MIRROR_PREFIX is comma-separated, so give each prefix as its own list entry" $where (toString .)) }}
{{- end }}
{{- if not (regexMatch `^([^{}]|\{\{|\}\}|\{\s*(now|today|yesterday|tomorrow)([+-][0-9]+[wdh])?\s*(:([^%{}]|%%|%[YmdHMSjyUWVGuaAbBpIe])*)?\})*$` (toString .)) }}
{{- fail (printf "%s: prefix %q has a bad date template: a field is {now}, {today}, {yesterday} or {tomorrow}, with an optional offset (now-2d; w, d, h) and format ({yesterday:%%Y/%%m/%%d}; directives %%Y %%m %%d %%H %%M %%S %%j %%y %%U %%W %%V %%G %%u %%a %%A %%b %%B %%p %%I %%e, %%%% for a literal %%); write {{ and }} for literal braces" $where (toString .)) }}
{{- end }}
{{- end }}
{{- range $job.exclude }}
{{- if contains "," . }}
{{- fail (printf "%s: exclude pattern %q contains a comma: MIRROR_EXCLUDE is comma-separated, so a comma cannot be part of a pattern ({a,b} alternatives are not globs here: list each pattern)" $where .) }}
{{- end }}
{{- /* as the worker reads a pattern (mirror/exclude.py): trailing '/' set aside; in a class,
'!' or '^' first negates, a ']' right after '[' or '[!' is a member, and '\' escapes there
too */}}
{{- $body := regexReplaceAll "/+$" . "" }}
{{- if or (eq $body "") (not (regexMatch `(?s)^([^\[\\]|\\.|\[([!^](\]|\\.|[^\]\\])|\]|\\.|[^\]\\!^])(\\.|[^\]\\])*\])*$` $body)) }}
{{- fail (printf "%s: exclude pattern %q is not a valid glob: a '[' needs its ']' (and a class at least one character), a '\\' must escape something, and a pattern needs more than '/'" $where .) }}
{{- end }}
{{- end }}
{{- /* pairs must not write into their own source nor into each other's target: the same
store (endpoint URL), the same bucket, and one folder inside the other */}}
{{- $targets := list }}
{{- range $pair := $job.pairs }}
{{- $sides := list }}
{{- range splitList ":" (trim $pair) }}
{{- $parts := splitList "/" (trim .) }}
{{- $endpoint := get $root.Values.endpoints (lower (index $parts 0)) }}
{{- $store := trimSuffix "/" (default (printf "https://s3.%s.amazonaws.com" (toString $endpoint.region)) $endpoint.url) }}
{{- $folder := join "/" (rest (rest $parts)) | trimAll "/" }}
{{- $sides = append $sides (dict "at" (printf "%s|%s" $store (index $parts 1)) "folder" (ternary (printf "%s/" $folder) "" (ne $folder ""))) }}
{{- end }}
{{- $source := index $sides 0 }}
{{- $target := index $sides 1 }}
{{- if and (eq $source.at $target.at) (or (hasPrefix $source.folder $target.folder) (hasPrefix $target.folder $source.folder)) }}
{{- fail (printf "%s: pair %q: the target overlaps the source; a mirror into itself would copy its own copies" $where $pair) }}
{{- end }}
{{- range $targets }}
{{- if and (eq .at $target.at) (or (hasPrefix .folder $target.folder) (hasPrefix $target.folder .folder)) }}
{{- fail (printf "%s: pairs %q and %q write to overlapping targets; give each pair its own target bucket or folder" $where .pair $pair) }}
{{- end }}
{{- end }}
{{- $targets = append $targets (merge (dict "pair" $pair) $target) }}
{{- end }}
{{- $service := default $fullname $job.service }}
{{- if and $root.Values.metrics.pushgatewayUrl (hasKey $services $service) }}
{{- fail (printf "%s: service %q is also %s's: the Pushgateway groups a run's metrics by service and pair, so the two jobs would overwrite each other's series; give each job its own service, or leave it unset (the CronJob's name)" $where $service (get $services $service)) }}
{{- end }}
{{- $_ := set $services $service $where }}
{{- $_ := set $job "aliases" $aliases }}
{{- $_ := set $job "fullname" $fullname }}
{{- $jobs = append $jobs $job }}
{{- end }}
{{- if and .Values.slack.botToken (not .Values.slack.channelId) }}
{{- fail "slack.botToken is set but slack.channelId is not: Slack needs both (SLACK_BOT_TOKEN and SLACK_CHANNEL_ID)" }}
{{- end }}
{{- /* credentials in the values that nothing reads: the run would use other keys, or none */}}
{{- range $alias, $endpoint := .Values.endpoints }}
{{- if $endpoint }}
{{- range $key := list "accessKey" "secretKey" }}
{{- if index $endpoint $key }}
{{- if $root.Values.existingSecret }}
{{- fail (printf "endpoints.%s.%s is set, but existingSecret (%s) is too, so the chart would ignore it: the pods read %s_%s from that Secret. Put the key in the Secret and remove it from the values, or unset existingSecret" $alias $key $root.Values.existingSecret (include "minio-s3-mirror.envPrefix" $alias) (ternary "ACCESS_KEY" "SECRET_KEY" (eq $key "accessKey"))) }}
{{- end }}
{{- if and (eq $alias "aws") $endpoint.credentialChain }}
{{- fail (printf "endpoints.aws.%s is set, but endpoints.aws.credentialChain is true, so the chart would ignore it: the aws alias signs with the AWS credential chain (its IAM role). Remove the keys, or set credentialChain to false" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.slack.botToken .Values.existingSecret }}
{{- fail (printf "slack.botToken is set, but existingSecret (%s) is too, so the chart would ignore it: the pods read SLACK_BOT_TOKEN from that Secret. Put the token in the Secret and remove it from the values, or unset existingSecret" .Values.existingSecret) }}
{{- end }}
{{- if and .Values.slack.channelId (not .Values.slack.botToken) (not .Values.existingSecret) }}
{{- fail "slack.channelId is set but there is no token: set slack.botToken, or existingSecret (a Secret with the key SLACK_BOT_TOKEN)" }}
{{- end }}
{{- toJson (dict "jobs" $jobs) }}
{{- end }}

{{/*
The data of the chart's own Secret as JSON: the keys of every alias the jobs use (except one
on the credential chain) and the Slack token; {} with existingSecret.
*/}}
{{- define "minio-s3-mirror.secretData" -}}
{{- if not .Values.existingSecret }}
{{- $data := dict }}
{{- range (include "minio-s3-mirror.jobs" . | fromJson).jobs }}
{{- range .aliases }}
{{- $endpoint := get $.Values.endpoints . }}
{{- if include "minio-s3-mirror.usesKeys" (dict "alias" . "endpoint" $endpoint) }}
{{- $prefix := include "minio-s3-mirror.envPrefix" . }}
{{- $_ := set $data (printf "%s_ACCESS_KEY" $prefix) $endpoint.accessKey }}
{{- $_ := set $data (printf "%s_SECRET_KEY" $prefix) $endpoint.secretKey }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.slack.channelId }}
{{- $_ := set $data "SLACK_BOT_TOKEN" .Values.slack.botToken }}
{{- end }}
{{- toJson $data }}
{{- else }}
{{- "{}" }}
{{- end }}
{{- end }}
