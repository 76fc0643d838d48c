/* Pullbox: dropbear build options (overrides default_options.h) */
#define DSS_PRIV_FILENAME "/data/ssh/dropbear_dss_host_key"
#define RSA_PRIV_FILENAME "/data/ssh/dropbear_rsa_host_key"
#define ECDSA_PRIV_FILENAME "/data/ssh/dropbear_ecdsa_host_key"
#define ED25519_PRIV_FILENAME "/data/ssh/dropbear_ed25519_host_key"
#define DROPBEAR_DSS 0
#define DROPBEAR_X11FWD 0
#define DROPBEAR_SVR_AGENTFWD 0
#define DROPBEAR_CLI_AGENTFWD 0
#define DROPBEAR_SVR_PASSWORD_AUTH 1
#define DROPBEAR_SVR_PUBKEY_AUTH 1
#define DEFAULT_PATH "/usr/bin:/bin"
#define DEFAULT_ROOT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define SFTPSERVER_PATH "/usr/libexec/sftp-server"
#define DROPBEAR_SFTPSERVER 0
