-- Every row of an officers' listing says whether the person has a proven address. Asked of
-- `identities_person`, that is a seek into the identities table per row; this index holds only
-- proven addresses, so the question is one probe of a small index, whatever the table holds.
CREATE INDEX identities_verified_email ON identities(person_id)
    WHERE kind = 'email' AND verified_at IS NOT NULL;
