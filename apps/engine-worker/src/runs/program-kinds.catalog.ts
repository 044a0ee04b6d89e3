import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { KindRegistry, loadProgramKinds, type DeclaredProgramKind, type ProgramKinds } from '@runforge/submission';

/**
 * The program kinds this worker runs, read once at start from the file `RUNFORGE_PROGRAM_KINDS`
 * names. A file that is missing or invalid stops the worker at start, naming the kind and field: a
 * worker that silently ran without its kinds would fail every such run instead.
 */
@Injectable()
export class ProgramKindsCatalog implements OnModuleInit {
  private readonly log = new Logger(ProgramKindsCatalog.name);
  private kinds: ProgramKinds = new Map();
  readonly source = process.env[KindRegistry.ENV] || undefined;

  async onModuleInit(): Promise<void> {
    if (!this.source) return;
    this.kinds = await loadProgramKinds(this.source);
    this.log.log({ file: this.source, kinds: [...this.kinds.keys()] }, 'program kinds declared');
  }

  get(name: string): DeclaredProgramKind | undefined {
    return this.kinds.get(name);
  }
}
