// Rendering Helm charts without Helm: see README.md for the template subset.
export {
  renderChart,
  loadChart,
  validateValues,
  type RenderOptions,
  type RenderResult,
  type LoadedChart,
} from './chart.js';
export { Engine } from './engine.js';
export { baseFuncs } from './funcs/index.js';
export { helmFuncs } from './helm-funcs.js';
export { printManifests, splitManifests, type Manifest } from './manifests.js';
export { rbacAllows, type ServiceAccountRef } from './rbac.js';
export { checkShape, modelFor } from './k8s-shapes.js';
export { validate, SchemaKeywordError, type Schema } from './json-schema.js';
export { parseYaml, toYaml, toJson } from './funcs/encoding.js';
export { semverCompare } from './funcs/semver.js';
export { ChartValueError, ManifestError, TemplateExecError, TemplateSyntaxError, ValuesSchemaError } from './errors.js';
export { FuncFail } from './evaluator.js';
export { formatFloat, printValue } from './values.js';
