-- ISA-95 process segments: the reusable steps work masters refer to.
CREATE TABLE process_segments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    equipment_level TEXT
);
