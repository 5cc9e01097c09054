# The cluster's certificates and kubeconfigs, laid out as kubeadm lays them out (sourced).
# shellcheck shell=bash

# cert NAME CA SUBJECT [SANS] [USAGE]: a key and a certificate signed by the CA named CA.
cert() {
  local name=$1 ca=$2 subject=$3 sans=${4:-} usage=${5:-clientAuth}
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" -subj "/CN=$2" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# kubeconfig NAME CERT: a kubeconfig for the client certificate CERT.
kubeconfig() {
  local name=$1 crt=$2 server=$3
  cat >"$STATE/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: retrace-k8s
  cluster:
    certificate-authority: $PKI/ca.crt
    server: $server
users:
- name: $name
  user:
    client-certificate: $PKI/$crt.crt
    client-key: $PKI/$crt.key
contexts:
- name: $name@retrace-k8s
  context: {cluster: retrace-k8s, user: $name}
current-context: $name@retrace-k8s
EOF
  chmod 600 "$STATE/$name.kubeconfig"
}

# The key pair ServiceAccount tokens are signed and checked with.
sa_keys() {
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

make_pki() {
  local ip=$1 server="https://$1:6443"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  ca ca kubernetes
  ca etcd-ca etcd-ca
  ca front-proxy-ca front-proxy-ca
  cert apiserver ca /CN=kube-apiserver \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,DNS:$NODE_NAME,IP:$API_SERVICE_IP,IP:$ip,IP:127.0.0.1" \
    serverAuth
  # The API server's client identity towards kubelets (logs, exec, port-forward); bound to
  # system:kubelet-api-admin below, as kubeadm does.
  cert apiserver-kubelet-client ca /CN=kube-apiserver-kubelet-client
  cert apiserver-etcd-client etcd-ca /CN=kube-apiserver-etcd-client
  cert etcd-server etcd-ca /CN=etcd "DNS:localhost,IP:127.0.0.1" serverAuth,clientAuth
  cert etcd-peer etcd-ca /CN=etcd-peer "DNS:localhost,IP:127.0.0.1" serverAuth,clientAuth
  cert front-proxy-client front-proxy-ca /CN=front-proxy-client
  sa_keys
  # Clients. The admin is in system:masters, like kubeadm's super-admin.conf.
  cert admin ca "/O=system:masters/CN=kubernetes-admin"
  cert controller-manager ca /CN=system:kube-controller-manager
  cert scheduler ca /CN=system:kube-scheduler
  cert kube-proxy ca /CN=system:kube-proxy
  # The kubelet: a client of the Node authorizer and NodeRestriction, and a server the API server
  # verifies (--kubelet-certificate-authority).
  cert kubelet-client ca "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kubelet-server ca "/CN=$NODE_NAME" "DNS:$NODE_NAME,IP:$ip" serverAuth
  kubeconfig admin admin "$server"
  kubeconfig controller-manager controller-manager "$server"
  kubeconfig scheduler scheduler "$server"
  kubeconfig kube-proxy kube-proxy "$server"
  kubeconfig kubelet kubelet-client "$server"
  rm -f "$PKI"/*.srl
}
