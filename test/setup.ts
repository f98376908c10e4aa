// Shared vitest setup. Node 20 lacks Promise.withResolvers, which aws-local-stepfunctions needs (handbook §6).
import '../local/promise-with-resolvers.js';
