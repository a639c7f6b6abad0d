// Minimal embedded Neo4j Community server with a Bolt connector, for local dev and CI.
//
// Started by scripts/services as a single-file source program:
//   java -Xmx512m -cp '<libs>/*' scripts/neo4j/Launcher.java <homedir> <port> [<pagecache>]
// <homedir> holds data/ and logs/ (Neo4j's own layout); <pagecache> defaults to 64m.
// Prints "READY bolt://127.0.0.1:<port>" once the default database is available, and
// shuts the DBMS down cleanly on SIGTERM/SIGINT (prints "STOPPED").

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

public class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Launcher <homedir> <bolt-port> [<pagecache, e.g. 64m>]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        long pageCache = parseSize(args.length > 2 ? args[2] : "64m");

        long t0 = System.nanoTime();
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                // don't preallocate 256 MiB transaction log files on a small CI disk
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                // stop in ~1 s instead of ~10 s: Bolt waits 5 s for connections and
                // 5 s for its thread pool by default (internal settings, present in 5.26)
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            System.out.flush();
            try {
                dbms.shutdown();
            } finally {
                System.out.println("STOPPED");
                System.out.flush();
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(TimeUnit.MINUTES.toMillis(5))) {
            System.err.println("ERROR: default database not available after 5 minutes");
            System.exit(1);
        }
        // one real transaction, so READY means Cypher works, not just "port open"
        db.executeTransactionally("RETURN 1");
        long ms = Duration.ofNanos(System.nanoTime() - t0).toMillis();
        System.out.println("READY bolt://127.0.0.1:" + port + " (neo4j "
                + org.neo4j.kernel.internal.Version.getNeo4jVersion() + ", java "
                + Runtime.version() + ", " + ms + " ms)");
        System.out.flush();
        stopped.await();
    }

    private static long parseSize(String s) {
        String v = s.trim().toLowerCase();
        long mult = 1;
        if (v.endsWith("g")) { mult = ByteUnit.gibiBytes(1); v = v.substring(0, v.length() - 1); }
        else if (v.endsWith("m")) { mult = ByteUnit.mebiBytes(1); v = v.substring(0, v.length() - 1); }
        else if (v.endsWith("k")) { mult = ByteUnit.kibiBytes(1); v = v.substring(0, v.length() - 1); }
        return Long.parseLong(v) * mult;
    }
}
