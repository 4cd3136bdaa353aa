-- Who is opening a posted drop's thread. On Discord the thread is a second request
-- after the drop's message: a process that dies between the two left a question in
-- the channel with no thread to answer in, for good. The drop is now recorded as
-- posted with its poster here, and the column is cleared once the thread is open
-- (or could not be opened); a posted drop still naming a dead process has its
-- thread opened by whoever sees that first. NULL on every existing row: those
-- threads were opened, or given up on, by the release before.
ALTER TABLE drops ADD COLUMN thread_opener TEXT;
