package rfy.bench;

import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.CloseableIterator;

/**
 * Apache Flink SQL over rfy's Nexmark event file (JSON lines, written by {@code rfy nexmark-gen}): the
 * nexmark project's table, views and query SQL, in Flink's local MiniCluster.
 *
 * <p>Usage: {@code FlinkNexmark --events FILE --query qN [--parallelism P] [--watermark-delay-ms MS] [--out FILE | --discard]}.
 * Without --discard it collects the query's changelog, applies it (+I/+U add a row, -U/-D remove one) and
 * writes the final rows, tab-separated and sorted, to --out (or stdout): timestamps as
 * {@code yyyy-MM-dd HH:mm:ss.SSS}, decimals in plain notation. With --discard the rows go to a blackhole sink
 * (for the benchmark).
 */
public final class FlinkNexmark {
  private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

  static String ddl(String path) {
    return ddl(path, 4000);
  }

  /** The events table; the watermark trails the largest `dateTime` by {@code watermarkDelayMs}. */
  static String ddl(String path, long watermarkDelayMs) {
    String delay = String.format("%d.%03d", watermarkDelayMs / 1000, watermarkDelayMs % 1000);
    return "CREATE TABLE datagen (\n"
        + "  event_type INT,\n"
        + "  person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,"
        + " state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,\n"
        + "  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,"
        + " `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,\n"
        + "  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,"
        + " `dateTime` TIMESTAMP(3), extra VARCHAR>,\n"
        + "  `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime`"
        + " ELSE bid.`dateTime` END,\n"
        + "  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '" + delay + "' SECOND\n"
        + ") WITH ('connector' = 'filesystem', 'path' = '" + path.replace("'", "''") + "', 'format' = 'json',"
        + " 'json.timestamp-format.standard' = 'SQL', 'json.fail-on-missing-field' = 'false')";
  }

  static final String[] VIEWS = {
    "CREATE VIEW person AS SELECT person.id, person.name, person.emailAddress, person.creditCard, person.city,"
        + " person.state, `dateTime`, person.extra FROM datagen WHERE event_type = 0",
    "CREATE VIEW auction AS SELECT auction.id, auction.itemName, auction.description, auction.initialBid,"
        + " auction.reserve, `dateTime`, auction.expires, auction.seller, auction.category, auction.extra"
        + " FROM datagen WHERE event_type = 1",
    "CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url, `dateTime`, bid.extra"
        + " FROM datagen WHERE event_type = 2",
  };

  static String query(String q) {
    switch (q) {
      case "q0":
        return "SELECT auction, bidder, price, `dateTime`, extra FROM bid";
      case "q1":
        return "SELECT auction, bidder, 0.908 * price as price, `dateTime`, extra FROM bid";
      case "q2":
        return "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0";
      case "q3":
        return "SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P on A.seller = P.id"
            + " WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')";
      case "q4":
        return "SELECT Q.category, AVG(Q.final) FROM (\n"
            + "  SELECT MAX(B.price) AS final, A.category FROM auction A, bid B\n"
            + "  WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires\n"
            + "  GROUP BY A.id, A.category) Q\n"
            + "GROUP BY Q.category";
      case "q5":
        // The nexmark project's q5, with the window's start and end in the result.
        return "SELECT AuctionBids.auction, AuctionBids.num, AuctionBids.starttime, AuctionBids.endtime FROM (\n"
            + "  SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime\n"
            + "  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))\n"
            + "  GROUP BY auction, window_start, window_end) AS AuctionBids\n"
            + "JOIN (\n"
            + "  SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (\n"
            + "    SELECT count(*) AS num, window_start AS starttime, window_end AS endtime\n"
            + "    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))\n"
            + "    GROUP BY auction, window_start, window_end) AS CountBids\n"
            + "  GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids\n"
            + "ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime"
            + " AND AuctionBids.num >= MaxBids.maxn";
      case "q7":
        return "SELECT B.auction, B.price, B.bidder, B.`dateTime`, B.extra FROM bid B JOIN (\n"
            + "  SELECT MAX(price) AS maxprice, window_end as `dateTime`\n"
            + "  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))\n"
            + "  GROUP BY window_start, window_end) B1\n"
            + "ON B.price = B1.maxprice\n"
            + "WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`";
      case "q8":
        return "SELECT P.id, P.name, P.starttime FROM (\n"
            + "  SELECT id, name, window_start AS starttime, window_end AS endtime\n"
            + "  FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))\n"
            + "  GROUP BY id, name, window_start, window_end) P\n"
            + "JOIN (\n"
            + "  SELECT seller, window_start AS starttime, window_end AS endtime\n"
            + "  FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))\n"
            + "  GROUP BY seller, window_start, window_end) A\n"
            + "ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime";
      case "q9":
        return "SELECT id, itemName, description, initialBid, reserve, `dateTime`, expires, seller, category, extra,"
            + " auction, bidder, price, bid_dateTime, bid_extra FROM (\n"
            + "  SELECT A.*, B.auction, B.bidder, B.price, B.`dateTime` AS bid_dateTime, B.extra AS bid_extra,\n"
            + "    ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.`dateTime` ASC) AS rownum\n"
            + "  FROM auction A, bid B\n"
            + "  WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires)\n"
            + "WHERE rownum <= 1";
      case "q11":
        return "SELECT B.bidder, count(*) as bid_count,"
            + " SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) as starttime,"
            + " SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) as endtime"
            + " FROM bid B GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)";
      case "q12":
        return "SELECT B.bidder, count(*) as bid_count, window_start, window_end FROM TABLE(TUMBLE(TABLE"
            + " (SELECT *, PROCTIME() AS p_time FROM bid), DESCRIPTOR(p_time), INTERVAL '10' SECOND)) B"
            + " GROUP BY B.bidder, window_start, window_end";
      default:
        throw new IllegalArgumentException("unknown query '" + q + "' (q0 q1 q2 q3 q4 q5 q7 q8 q9 q11 q12)");
    }
  }

  static String cell(Object o) {
    if (o == null) return "NULL";
    if (o instanceof LocalDateTime) return ((LocalDateTime) o).format(TS);
    if (o instanceof BigDecimal) return ((BigDecimal) o).toPlainString();
    return o.toString();
  }

  static String line(Row r) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < r.getArity(); i++) {
      if (i > 0) b.append('\t');
      b.append(cell(r.getField(i)));
    }
    return b.toString();
  }

  public static void main(String[] args) throws Exception {
    String events = null, q = null, out = null;
    int parallelism = 1;
    long watermarkDelayMs = 4000;
    boolean discard = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--events": events = args[++i]; break;
        case "--query": q = args[++i]; break;
        case "--parallelism": parallelism = Integer.parseInt(args[++i]); break;
        case "--out": out = args[++i]; break;
        case "--discard": discard = true; break;
        case "--watermark-delay-ms": watermarkDelayMs = Long.parseLong(args[++i]); break;
        default: throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (events == null || q == null) throw new IllegalArgumentException("--events FILE --query qN needed");
    if (!Files.isRegularFile(Path.of(events))) throw new IllegalArgumentException(events + ": no such file");
    Configuration conf = new Configuration();
    conf.setString("parallelism.default", Integer.toString(parallelism));
    TableEnvironment t =
        TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
    t.executeSql(ddl(Path.of(events).toAbsolutePath().toString(), watermarkDelayMs));
    for (String v : VIEWS) t.executeSql(v);
    Table result = t.sqlQuery(query(q));
    long start = System.nanoTime();
    if (discard) {
      result
          .executeInsert(
              TableDescriptor.forConnector("blackhole").schema(org.apache.flink.table.api.Schema.newBuilder().fromResolvedSchema(result.getResolvedSchema()).build()).build())
          .await();
      System.err.printf("flink %s -p %d: %.3f s%n", q, parallelism, (System.nanoTime() - start) / 1e9);
      return;
    }
    // q4 and q9 have a unique key (their first column); the planner may send their changes in upsert form
    // (+U replaces the key's row, no -U first), so they are applied per key. Others: a multiset of rows.
    boolean upsert = q.equals("q4") || q.equals("q9");
    Map<String, Integer> rows = new HashMap<>();
    Map<Object, String> byKey = new HashMap<>();
    TableResult r = result.execute();
    try (CloseableIterator<Row> it = r.collect()) {
      while (it.hasNext()) {
        Row row = it.next();
        String l = line(row);
        RowKind k = row.getKind();
        boolean add = k == RowKind.INSERT || k == RowKind.UPDATE_AFTER;
        if (upsert) {
          if (add) byKey.put(row.getField(0), l);
          else byKey.remove(row.getField(0));
        } else if (add) {
          rows.merge(l, 1, Integer::sum);
        } else if (rows.merge(l, -1, Integer::sum) == 0) {
          rows.remove(l);
        }
      }
    }
    List<String> lines = new ArrayList<>(byKey.values());
    for (Map.Entry<String, Integer> e : rows.entrySet()) {
      for (int i = 0; i < e.getValue(); i++) lines.add(e.getKey());
    }
    java.util.Collections.sort(lines);
    try (PrintStream p = out == null ? System.out : new PrintStream(Files.newOutputStream(Path.of(out)), false, "UTF-8")) {
      for (String l : lines) p.println(l);
    }
    System.err.printf("flink %s -p %d: %d rows, %.3f s%n", q, parallelism, lines.size(), (System.nanoTime() - start) / 1e9);
  }
}
