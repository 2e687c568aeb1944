// How the SPA uses the client: the document's type fixes both the variables and the shape of the answer.
import { createClient, CustomerCardDocument, GraphQLRequestError } from '../src/index';

export async function customerName(id: string): Promise<string | null> {
  const request = createClient();
  try {
    const { node } = await request(CustomerCardDocument, { id });
    return node && 'name' in node ? node.name : null;
  } catch (e) {
    if (e instanceof GraphQLRequestError && e.code === 'rate_limited') {
      return null;
    }
    throw e;
  }
}
