-- Confirmed choices in the order the monthly report reads them (person, then time), so
-- the span each choice stands is found in one pass over this index, without sorting.
CREATE INDEX requests_choices ON requests(person_id, confirmed_at, id, kind)
    WHERE kind IN ('opt_out', 'opt_in') AND confirmed_at IS NOT NULL;
