// The reference for the worker load run: the least a worker on the same runtime can do.
// /price answers a fixed JSON body; a product page is the origin's page passed through.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/price") {
      return Response.json({ sku: url.searchParams.get("sku"), price: 59.99 });
    }
    return fetch(`${env.ORIGIN}${url.pathname}`);
  },
};
