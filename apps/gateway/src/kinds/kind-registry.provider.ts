import { Logger, type Provider } from '@nestjs/common';
import { KindRegistry, loadProgramKinds } from '@runforge/submission';

/** The env var naming the program kinds file the workers run (the gateway validates requests against it). */
export const PROGRAM_KINDS_ENV = 'RUNFORGE_PROGRAM_KINDS';

/**
 * Every kind the API accepts: the built-in ones and the program kinds the workers declare. A file
 * that is missing or invalid stops the gateway at start, naming the kind and the field.
 */
export const kindRegistryProvider: Provider = {
  provide: KindRegistry,
  useFactory: async (): Promise<KindRegistry> => {
    const file = process.env[PROGRAM_KINDS_ENV];
    if (!file) return new KindRegistry();
    const programs = await loadProgramKinds(file);
    new Logger('KindRegistry').log({ file, kinds: [...programs.keys()] }, 'program kinds declared');
    return new KindRegistry(programs);
  },
};
