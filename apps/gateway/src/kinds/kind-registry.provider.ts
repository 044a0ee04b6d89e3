import { Logger, type Provider } from '@nestjs/common';
import { KindRegistry } from '@runforge/submission';

/**
 * Every kind the API accepts: the built-in ones and the program kinds the workers declare
 * (`RUNFORGE_PROGRAM_KINDS`). A file that is missing or invalid stops the gateway at start, naming
 * the kind and the field.
 */
export const kindRegistryProvider: Provider = {
  provide: KindRegistry,
  useFactory: async (): Promise<KindRegistry> => {
    const kinds = await KindRegistry.load();
    new Logger('KindRegistry').log({ kinds: kinds.names() }, 'kinds');
    return kinds;
  },
};
