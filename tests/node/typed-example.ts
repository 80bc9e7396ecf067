// Compiled by `tsc --noEmit` in scripts/test.sh: the generated declarations must type a
// real use of the API, and must reject a wrong one (the @ts-expect-error lines).
import init, { PricingEngine, PreparedProduct, Quote, SessionTracker, type Decision, type Place, type Product, type Session, type StageTimes } from "../../pkg/web/edgeprice.js";

export async function example(): Promise<number> {
  await init();
  const now = Date.now() / 1000;
  const engine: PricingEngine = PricingEngine.withDefault(now);
  const product: Product = { sku: "sku-1", list_price: 49.99, cost: 20, currency: "USD", stock: 12, category: "shoes" };
  const session: Session = { session_id: "ts-1", features: { ProductRelated: 3, VisitorType: "New_Visitor" } };
  const decision: Decision = engine.price(session, product, now);
  const arm: "model" | "explore" | "control" | "fallback" = decision.arm;
  const where: Place = { country: "US", region: "NY" };
  const placed: Decision = engine.priceAt(session, product, where, now);
  const disclosure: string | undefined = placed.disclosure;
  const many: Decision[] = engine.priceMany([session, session], product, now);
  const tracker: SessionTracker = engine.tracker();
  tracker.record({ page: "product", seconds: 30, page_id: "product/sku-1" });
  const tracked: Session = tracker.session("ts-2", "Returning_Visitor", "2", now);
  const version: number = engine.policyVersion;
  // The fast path: a prepared product and a tracker with its identity.
  const prepared: PreparedProduct = engine.product(product);
  const visitor: SessionTracker = engine.tracker("ts-3", "New_Visitor", "2");
  const quote: Quote = engine.quote(visitor, prepared, now);
  const quoted: [number, string, string[], Decision] = [quote.price, quote.decisionId, quote.reasons, quote.toJSON()];
  quote.free();
  const page: Decision[] = engine.pricePage(session, [product, product], now);
  const heads: Float32Array = engine.modelHeads(new Float32Array(42));
  const times: StageTimes = engine.stageTimes(visitor, prepared, 5, now);
  // @ts-expect-error: quote takes a prepared product, not a product object
  engine.quote(visitor, product, now);
  // @ts-expect-error: a price is a number, not a string
  const wrong: string = decision.price;
  // @ts-expect-error: a product needs a currency
  const noCurrency: Product = { sku: "x", list_price: 1, cost: 0 };
  void [arm, many, tracked, wrong, noCurrency, quoted, page, heads, times];
  return decision.propensity + version;
}
