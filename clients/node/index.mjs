// ES module entry point: the same classes as the CommonJS one.
import liftwatch from "./index.js";

export const { AGGREGATE_FLUSH_BYTES, Aggregate, Client, ProtocolError } = liftwatch;
export default liftwatch;
