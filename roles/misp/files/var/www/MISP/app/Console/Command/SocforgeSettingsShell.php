<?php
// Managed by socforge.core.misp (files/var/www/MISP/app/Console/Command/SocforgeSettingsShell.php).
//
//   cake SocforgeSettings apply < changes.json
//
// Applies many MISP settings in one process, each exactly as `cake Admin setSetting NAME VALUE
// [--force]` does (MISP's own validation, hooks and audit log), instead of bootstrapping MISP once per
// setting. stdin: a JSON list of {"name": "MISP.baseurl", "value": "https://...", "force": false}
// ("value": null sets null). Stops at the first rejected setting, exit code 1, naming it; prints one
// line per applied setting (secrets are not echoed).
//
//   cake SocforgeSettings zmq
//
// Rewrites the ZeroMQ publisher's settings file (app/files/scripts/tmp/mispzmq_settings.json) from the
// current configuration with MISP's own PubSubTool, and prints "changed" or "unchanged". MISP writes
// that file only from a setting's hook, with the configuration as it was before the setting: a user
// set before its password leaves a file with an empty password, and mispzmq.py refuses to start.
App::uses('AppShell', 'Console/Command');

class SocforgeSettingsShell extends AppShell
{
    public $uses = ['Server'];

    public function apply()
    {
        $input = stream_get_contents(STDIN);
        $changes = json_decode($input, true);
        if (!is_array($changes)) {
            $this->error('Setting change rejected.', 'stdin is not a JSON list of {name, value, force}.');
        }
        foreach ($changes as $change) {
            $name = $change['name'] ?? '';
            $value = array_key_exists('value', $change) ? $change['value'] : null;
            $force = !empty($change['force']);
            $setting = $this->Server->getSettingData($name);
            if (empty($setting)) {
                $this->error("Setting change rejected: $name", "Invalid setting \"$name\".");
            }
            if ($value !== null) {
                $value = (string)$value;
                if ($setting['type'] === 'boolean') {
                    $value = $this->toBoolean($value);
                } elseif ($setting['type'] === 'numeric') {
                    if (is_numeric($value)) {
                        $value = (int)$value;
                    } elseif ($value === 'true' || $value === 'false') {
                        $value = $value === 'true' ? 1 : 0;
                    } else {
                        $this->error("Setting change rejected: $name", "Provided value $value is not a number.");
                    }
                }
            }
            $old = Configure::read($name);
            $result = $this->Server->serverSettingsEditValue('SYSTEM', $setting, $value, $force, true);
            if ($result !== true) {
                $this->error("Setting change rejected: $name", "MISP considers the value invalid: \"$result\"");
            }
            Configure::write($name, $value);
            if ($name === 'Security.encryption_key' && empty($value) && !empty($old)) {
                // MISP's afterHook decrypts the sync servers' auth keys while the old key is still
                // configured, and Server::beforeSave encrypts each again with it: decrypt them now.
                $this->Server->reencryptAuthKeys($old, null);
            }
            $this->out("Setting \"$name\" changed");
        }
    }

    public function zmq()
    {
        $path = APP . 'files' . DS . 'scripts' . DS . 'tmp' . DS . 'mispzmq_settings.json';
        if (!Configure::read('Plugin.ZeroMQ_enable')) {
            $this->out('disabled');
            return;
        }
        $before = is_file($path) ? file_get_contents($path) : '';
        $this->Server->getPubSubTool()->reloadServer();
        clearstatcache();
        $after = is_file($path) ? file_get_contents($path) : '';
        $this->out($before === $after ? 'unchanged' : 'changed');
    }
}
