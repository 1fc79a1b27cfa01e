// Reads Java properties files as Kafka does (java.util.Properties) and parses one JAAS value of each
// with Kafka's own parser (JaasContext.loadClientContext, as a client with sasl.jaas.config does).
// For each "<file> <property>" pair it prints "== <file> <property>", the login module, then the
// module's options, one "key=value" per line (values URL-encoded as UTF-8 so any character survives).
// Run as a single-file program: java -cp '<kafka libs>/*' JaasCheck.java <file> <property> [...]
import java.io.FileInputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;

public class JaasCheck {
    public static void main(String[] args) throws Exception {
        for (int i = 0; i + 1 < args.length; i += 2) {
            Properties props = new Properties();
            try (FileInputStream in = new FileInputStream(args[i])) {
                props.load(in);
            }
            String value = props.getProperty(args[i + 1]);
            System.out.println("== " + args[i] + " " + args[i + 1]);
            if (value == null) {
                System.out.println("missing=1");
                continue;
            }
            List<AppConfigurationEntry> entries =
                JaasContext.loadClientContext(Map.of("sasl.jaas.config", new Password(value))).configurationEntries();
            System.out.println("module=" + entries.get(0).getLoginModuleName());
            for (Map.Entry<String, ?> option : entries.get(0).getOptions().entrySet()) {
                System.out.println(option.getKey() + "=" + URLEncoder.encode(String.valueOf(option.getValue()), StandardCharsets.UTF_8));
            }
        }
    }
}
