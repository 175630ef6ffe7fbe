# coding: utf-8
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from two_layer_net import TwoLayerNet

# 讀入數據
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)   # normalizer: 歸一化 /= np.float32(255.0) => 0.0~1.0

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)       # 28*28=784

iters_num = 10000                   #迭代次數
train_size = x_train.shape[0]       #樣本數量
print("Train_size:", train_size)
batch_size = 100                    #批量大小
learning_rate = 0.1                 #學習率

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)
print("Iters/epoch:", iter_per_epoch)
print("epochs:", int(iters_num/iter_per_epoch)+1)
epochs = 0

for i in range(iters_num):
    #用余數表示每個epoch內mini-batches的序號
    batch_index = i % iter_per_epoch
    #每經歷一個epoch,更新一次打亂的數據索引shuffled_indices
    if batch_index == 0:
        shuffled_indices = np.random.permutation(train_size)
    #將被打亂樣本的索引,按順序取樣,一次batch_size個
    batch_indices = shuffled_indices[int(batch_index * batch_size) : int((batch_index + 1)*batch_size)]
    #batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_indices]
    t_batch = t_train[batch_indices]

    # 梯度
    #grad = network.numerical_gradient(x_batch, t_batch)
    grad = network.gradient(x_batch, t_batch)

    # 更新
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print("epochs:", epochs)
        print("訓練和測試精度:", train_acc, test_acc)
        epochs += 1
