-- Indexes for "what happened lately" and "what is held" queries (the server's overview): without
-- them each scans every lot ever made, which a plant-year makes hundreds of milliseconds.
CREATE INDEX lots_by_created_at ON lots (created_at, id);
CREATE INDEX lots_by_disposition ON lots (disposition);
CREATE INDEX nonconformances_by_state ON nonconformances (state);
