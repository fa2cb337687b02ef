// ES module entry point: the same classes as the CommonJS one.
import liftwatch from "./index.js";

export const { AGGREGATE_FLUSH_BYTES, Aggregate, Client, ProtocolError, Span } = liftwatch;
export default liftwatch;
