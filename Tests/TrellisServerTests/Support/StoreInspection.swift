// Test-only reads of what the gateway's store wrote (`gateway.store.usageEvents()`, `countUsage(where:)`,
// `interactionCount()`), from the test support library: the product's store protocols do not offer them.
import TrellisStoreTestSupport
