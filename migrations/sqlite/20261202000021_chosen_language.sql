-- The language a person chose to be answered in (`/privacy language:`, or `language` in a
-- mail), over their client's or their mail's. NULL: they chose none, and each call is
-- answered in its own language.
ALTER TABLE people ADD COLUMN language TEXT
    CHECK (language IN ('en', 'de', 'fr', 'es', 'pt-BR'));
