-- What becomes of lots received from outside, per material class: 'quarantine' (until QA
-- releases them) or 'certificate' (released on receipt against the supplier's certificate).
-- Classes defined before this migration get quarantine, the safe default.
ALTER TABLE material_classes ADD COLUMN receipt TEXT NOT NULL DEFAULT 'quarantine';
