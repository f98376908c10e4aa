// Shared vitest setup. Node 20 lacks Promise.withResolvers, which aws-local-stepfunctions needs (docs/architecture.md "Conventions": toolchain).
import '../local/promise-with-resolvers.js';
