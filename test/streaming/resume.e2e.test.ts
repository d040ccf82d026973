import { describeResumeSuite } from "./resume-suite.js";

describeResumeSuite("PostgreSQL event store");
