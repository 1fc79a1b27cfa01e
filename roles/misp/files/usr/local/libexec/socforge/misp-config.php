<?php
// Managed by socforge.core.misp (files/usr/local/libexec/socforge/misp-config.php).
// MISP's app/Config/config.php for the role:
//   php misp-config.php CONFIG get              print $config as JSON ({} when there is no file)
//   php misp-config.php CONFIG set NAME JSON    set one setting that `cake Admin setSetting` does not
//                                               know (e.g. Plugin.ZeroMQ_supervisor_managed), written
//                                               the way MISP writes the file (var_export, atomic
//                                               rename, owner and mode kept)
$path = $argv[1] ?? '';
$cmd = $argv[2] ?? 'get';
if ($path === '') {
    fwrite(STDERR, "usage: misp-config.php CONFIG get|set NAME JSON\n");
    exit(2);
}
if (!is_file($path)) {
    if ($cmd === 'get') {
        echo "{}\n";
        exit(0);
    }
    fwrite(STDERR, "$path: no such file\n");
    exit(1);
}
require $path;
if (!isset($config) || !is_array($config)) {
    fwrite(STDERR, "$path does not define \$config\n");
    exit(1);
}
if ($cmd === 'get') {
    echo json_encode($config, JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION), "\n";
    exit(0);
}
if ($cmd !== 'set' || !isset($argv[3]) || !isset($argv[4])) {
    fwrite(STDERR, "usage: misp-config.php CONFIG get|set NAME JSON\n");
    exit(2);
}
$value = json_decode($argv[4], true);
if (json_last_error() !== JSON_ERROR_NONE) {
    fwrite(STDERR, "value for {$argv[3]} is not JSON\n");
    exit(2);
}
$node =& $config;
foreach (explode('.', $argv[3]) as $part) {
    if (!isset($node[$part]) || !is_array($node[$part])) {
        $node[$part] = [];
    }
    $node =& $node[$part];
}
$node = $value;
unset($node);
$tmp = tempnam(dirname($path), '.config.php.');
if ($tmp === false || file_put_contents($tmp, "<?php\n\$config = " . var_export($config, true) . ";") === false) {
    fwrite(STDERR, "could not write a temporary file next to $path\n");
    exit(1);
}
chmod($tmp, fileperms($path) & 0777);
chown($tmp, fileowner($path));
chgrp($tmp, filegroup($path));
if (!rename($tmp, $path)) {
    unlink($tmp);
    fwrite(STDERR, "could not replace $path\n");
    exit(1);
}
echo "set {$argv[3]}\n";
