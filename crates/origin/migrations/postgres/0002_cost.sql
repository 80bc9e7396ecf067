-- Unit cost of the product at decision time, so that reports can show profit.
ALTER TABLE feedback ADD COLUMN cost DOUBLE PRECISION;
