// Apart from the parser (src/kube/kubectl-yaml.ts), so that checking a document does not load js-yaml.

/**
 * A plain YAML scalar that kubectl reads as a number or a boolean. It is kept with the text it was written as,
 * so that `memberOf: yes` can be refused as "the boolean yes", not as `true` the user never wrote.
 */
export class YamlScalar {
  // js-yaml turns a mapping key into a string unless its class says it is a plain object.
  readonly [Symbol.toStringTag] = 'YamlScalar';

  constructor(
    readonly type: 'number' | 'boolean',
    readonly value: number | boolean,
    readonly source: string,
  ) {}

  /** `the number 017, which YAML reads as 15`: what was written, and what it became where that differs. */
  describe(): string {
    const read = this.type === 'boolean' || String(this.value) !== this.source ? `, which YAML reads as ${String(this.value)}` : '';
    return `the ${this.type} ${this.source}${read}`;
  }

  /** As a mapping key, what sigs.k8s.io/yaml makes of it: `1.5`, `true`, `.inf`. */
  toString(): string {
    if (this.value === Number.POSITIVE_INFINITY) return '.inf';
    if (this.value === Number.NEGATIVE_INFINITY) return '-.inf';
    return Number.isNaN(this.value) ? '.nan' : String(this.value);
  }
}
