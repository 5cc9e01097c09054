// The parse tree of a template, as Go's text/template/parse builds it (only what we execute).

/** An operand of a command. */
export type Arg =
  | { type: 'field'; idents: string[] } // .a.b
  | { type: 'dot' }
  | { type: 'variable'; name: string; idents: string[] } // $x.a.b
  | { type: 'identifier'; name: string } // a function
  | { type: 'chain'; node: Arg; idents: string[] } // (pipeline).a.b
  | { type: 'pipe'; pipe: Pipe } // (pipeline)
  | { type: 'string'; value: string }
  | { type: 'number'; value: bigint | number }
  | { type: 'bool'; value: boolean }
  | { type: 'nil' };

export interface Command {
  args: Arg[];
}

export interface Pipe {
  line: number;
  /** `=` rather than `:=` */
  isAssign: boolean;
  /** Variables declared or assigned, with their `$`. */
  decl: string[];
  cmds: Command[];
}

/** if, with and range: a pipeline, a body, and what runs otherwise. */
export interface ControlNode {
  type: 'if' | 'with' | 'range';
  line: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; line: number; pipe: Pipe }
  | ControlNode
  | { type: 'template'; line: number; name: string; pipe?: Pipe }
  | { type: 'break' | 'continue'; line: number };
