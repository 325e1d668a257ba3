/// The gateway's version, as `trellis --version`, the start-up log line and the MCP server's `serverInfo` give it.
public enum TrellisVersion {
    public static let string = "0.1.0"
}
