// Typed document nodes for every operation in frontend-contract/, and the persisted-documents manifest the
// server enforces in production (sha256 of each document, as the client sends it).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['../*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    './src/generated/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTime: 'string', JSON: 'unknown', Money: 'string', Quantity: 'string', TaxRate: 'string', UUID: 'string' },
      },
    },
  },
};

export default config;
