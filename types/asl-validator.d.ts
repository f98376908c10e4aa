// asl-validator ships no type declarations; this covers the call the local Step Functions harness makes.
declare module 'asl-validator' {
  interface AslValidationError {
    'Error code': string;
    Message: string;
    [field: string]: unknown;
  }
  interface AslValidationOptions {
    /** Check JSONPath expressions. @default true */
    checkPaths?: boolean;
    /** Check Task resources are ARNs. @default true */
    checkArn?: boolean;
  }
  interface AslValidationResult {
    isValid: boolean;
    errors: AslValidationError[];
    errorsText(separator?: string): string;
  }
  /** Validates an Amazon States Language definition. Mutates it (adds QueryLanguage to states): pass a copy. */
  function validator(definition: unknown, options?: AslValidationOptions): AslValidationResult;
  export = validator;
}
